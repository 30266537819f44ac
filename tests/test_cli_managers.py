"""`bridgekit managers create | rotate | password-link`: mistakes are refused with a clear message and a
non-zero exit, never reported as a success."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bridgekit.config import DEFAULT_DB_FILE
from bridgekit.inbox.sessions import password_link_manager
from bridgekit.storage.db import Database
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


def _link(output: str) -> str:
    found = re.search(r"set-password link \(once, within 24 h\): (\S+)", output)
    assert found, output
    return found.group(1)


async def _link_opens(tmp_path: Path, link: str) -> str | None:
    """The name the link's page greets, or None when the link does not work."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / DEFAULT_DB_FILE}")
    try:
        manager = await password_link_manager(db, link.rsplit("/", 1)[1])
        return None if manager is None else manager.name
    finally:
        await db.dispose()


async def test_create_with_an_email_prints_a_one_time_link_and_a_new_one_replaces_it(tmp_path: Path) -> None:
    created = managers(tmp_path, "create", "Kim Minji", "--email", "Minji@Example.com")
    assert created.returncode == 0, created.stderr
    first = _link(created.stdout)
    assert first.startswith("http://127.0.0.1:8080/set-password/")
    assert await _link_opens(tmp_path, first) == "Kim Minji"

    again = managers(tmp_path, "password-link", "1")
    assert again.returncode == 0, again.stderr
    second = _link(again.stdout)
    assert second != first
    assert await _link_opens(tmp_path, second) == "Kim Minji"
    assert await _link_opens(tmp_path, first) is None  # only the newest link works

    taken = managers(tmp_path, "create", "Another", "--email", "minji@example.com")
    assert taken.returncode != 0
    assert "another manager already signs in with minji@example.com" in taken.stderr


def test_a_link_needs_an_email_and_password_link_can_set_one(tmp_path: Path) -> None:
    assert managers(tmp_path, "create", "Sato Yui").returncode == 0
    missing = managers(tmp_path, "password-link", "1")
    assert missing.returncode != 0
    assert "has no email" in missing.stderr
    assert "set-password" not in missing.stdout
    given = managers(tmp_path, "password-link", "1", "--email", "yui@example.com")
    assert given.returncode == 0, given.stderr
    assert "/set-password/" in given.stdout
    nobody = managers(tmp_path, "password-link", "7")
    assert nobody.returncode != 0
    assert "no manager 7" in nobody.stderr
