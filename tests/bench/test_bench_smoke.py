"""Smoke test of ``bench/line_ingest.py --quick`` (issue #4): it runs, prints the ratios, and
checks that bridgekit stored every webhook it acknowledged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "line_ingest.py"

RATIO_LINE = re.compile(
    r"^bridgekit \d+ req/s \| baseline-a \(line-bot-sdk parse\) \d+ \| baseline-b \(hmac\+sqlite3\) \d+"
    r" \| ratio vs a \d+\.\d\d \(target >= 1\) (met|MISSED)"
    r" \| ratio vs b \d+\.\d\d \(target >= 0\.6\) (met|MISSED)$",
    re.MULTILINE,
)
STORAGE_LINE = re.compile(
    r"^storage check: all (\d+) acknowledged messages were stored by bridgekit .*: OK$", re.MULTILINE
)


@pytest.mark.slow
def test_line_ingest_quick_run() -> None:
    pytest.importorskip(
        "linebot.v3.webhook", reason="baseline a needs line-bot-sdk (LINE plugin's test extra)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEKIT_")}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert RATIO_LINE.search(proc.stdout), output
    stored = STORAGE_LINE.search(proc.stdout)
    assert stored, output
    assert int(stored.group(1)) > 0, output
    assert "INVALID" not in proc.stdout, output
