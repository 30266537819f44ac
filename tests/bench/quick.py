"""Run a benchmark script as a user would, for the smoke tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(name: str, *args: str, timeout: float = 120) -> str:
    """Run ``bench/<name>`` with ``args`` outside any BRIDGEKIT_ environment; assert it exited 0
    and call no run INVALID; return its standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEKIT_")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "INVALID" not in proc.stdout, output
    return proc.stdout
