"""Smoke test of ``bench/inbox_views.py --quick`` (issue #5): it fills two sizes, times the
first page of each view through the API's list code and prints one ratio line per view."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "inbox_views.py"
VIEWS = ("all", "mine", "unassigned", "tag", "integration", "newest")
LINE = (
    r"^  {view} +1,000 +\d+\.\d\d ms \|    10,000 +\d+\.\d\d ms"
    r" \| ratio \d+\.\d\d \(target <= 2\) (met|MISSED)$"
)


@pytest.mark.slow
def test_inbox_views_quick_run() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEKIT_")}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--runs", "5"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert re.search(r"^  filled 10,000 chats in \d+\.\d s$", proc.stdout, re.MULTILINE), output
    for view in VIEWS:
        assert re.search(LINE.format(view=view), proc.stdout, re.MULTILINE), (view, output)
