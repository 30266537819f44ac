"""`bridgekit serve` with no configuration starts on the embedded defaults and says where."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.processes import env, free_port

pytestmark = pytest.mark.slow


async def test_serve_without_configuration_uses_a_sqlite_file_in_the_working_directory(
    tmp_path: Path,
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridgekit.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = None
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                        health = await resp.json()
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        assert health is not None
        assert health == {"status": "ok"}  # the public answer names nothing
        assert (tmp_path / "bridgekit.db").exists()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    assert "configuration defaults (no configuration file)" in output
    assert f"sqlite+aiosqlite:///{tmp_path / 'bridgekit.db'}" in output
    assert f"http://127.0.0.1:{port}" in output


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridgekit.cli", "migrate"],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "database is up to date" in done.stdout
    assert (tmp_path / "bridgekit.db").exists()


def test_a_configuration_error_is_reported_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bridgekit.toml").write_text("[srever]\n")
    done = subprocess.run(
        [sys.executable, "-m", "bridgekit.cli", "plugins"],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "unknown configuration section(s): srever" in done.stderr
    assert "Traceback" not in done.stderr
