"""Smoke test of ``bench/smtp_ingest.py --quick`` (issue #3): it runs, and it checks storage."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "smtp_ingest.py"

RATIO_LINE = re.compile(
    r"^bridgekit \d+ mail/s \| baseline \(aiosmtpd\+mail-parser, no storage\) \d+ mail/s"
    r" \| ratio \d+\.\d\d \(target >= 0\.7\) (OK|MISSED|UNRELIABLE)$",
    re.MULTILINE,
)
STORAGE_LINE = re.compile(
    r"^storage check: all (\d+) accepted mails were stored by bridgekit .*: OK$", re.MULTILINE
)


@pytest.mark.slow
def test_smtp_ingest_quick_run() -> None:
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
