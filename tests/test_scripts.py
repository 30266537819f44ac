"""``./scripts/run`` sets up once and then starts quietly (issue 12, "for people starting it")."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.slow


def test_run_installs_only_when_a_pyproject_changed_and_is_quiet_otherwise() -> None:
    # Whatever the state of .venv, after this its stamp matches the pyproject files.
    subprocess.run([ROOT / "scripts" / "setup", "--test"], check=True, capture_output=True, timeout=900)
    started = time.monotonic()
    done = subprocess.run(
        [ROOT / "scripts" / "run", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "usage: bridgekit serve" in done.stdout
    assert done.stderr == ""  # no pip, no setuptools warnings
    assert elapsed < 10  # no reinstall: pip alone takes longer than that
    stamp = (ROOT / ".venv" / ".setup-stamp").read_text().split()
    assert stamp[1] == "test"  # a runtime start does not downgrade the test install
