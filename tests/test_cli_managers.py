"""`bridgekit managers create | rotate`: mistakes are refused with a clear message and a
non-zero exit, never reported as a success."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import env

pytestmark = pytest.mark.slow


def managers(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgekit.cli", "managers", *args],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
    )


def test_rotating_the_token_of_a_manager_that_does_not_exist_fails(tmp_path: Path) -> None:
    created = managers(tmp_path, "create", "Kim Minji")
    assert created.returncode == 0, created.stderr

    missing = managers(tmp_path, "rotate", "999")

    assert missing.returncode != 0
    assert "no manager 999" in missing.stderr
    assert "token" not in missing.stdout
    assert "Traceback" not in missing.stderr
    rotated = managers(tmp_path, "rotate", "1")
    assert rotated.returncode == 0, rotated.stderr
    assert "new API token for manager 1" in rotated.stdout


def test_a_misspelt_permission_is_refused_with_the_valid_names(tmp_path: Path) -> None:
    typo = managers(tmp_path, "create", "Kim Minji", "--permission", "admn")

    assert typo.returncode != 0
    assert "admn" in typo.stderr
    assert "admin" in typo.stderr
    assert "delete_chats" in typo.stderr
    assert "created" not in typo.stdout
    fine = managers(tmp_path, "create", "Kim Minji", "--permission", "admin", "--permission", "delete_chats")
    assert fine.returncode == 0, fine.stderr
    assert "manager 1 created" in fine.stdout
