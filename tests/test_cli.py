"""`bridgekit serve` with no configuration starts on the embedded defaults and says where."""

from __future__ import annotations

import asyncio
import json
import shlex
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
    # Without a configuration file the database is found by directory: the command says where.
    assert f"cd {tmp_path} && " in output
    assert "no integrations configured yet" in output


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


PATH_TOKEN = "tk-3f9a1c7e5b2d4a6c8e0f"


def _banner_config(tmp_path: Path, port: int, smtp_port: int) -> Path:
    config = tmp_path / "bridgekit.toml"
    config.write_text(
        f'[server]\nport = {port}\npublic_url = "https://support.example.com"\n\n'
        '[integrations.acme-talktalk]\nchannel = "naver"\n'
        f'secrets = {{ authorization_key = "ct_key", path_token = "{PATH_TOKEN}" }}\n\n'
        '[integrations.acme-mail]\nchannel = "email"\n'
        f'settings = {{ address = "acme@in.example.com", smtp_host = "127.0.0.1", smtp_port = {smtp_port},'
        ' default_from = "ACME <support@example.com>" }\n'
    )
    return config


async def _serve_until_banner(args: list[str], cwd: Path, port: int) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridgekit.cli", *args, "serve"],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    return output


async def test_the_start_banner_says_what_to_do_next(tmp_path: Path) -> None:
    """How to create a manager (a command that works as printed), where the API is, and where
    each integration's provider must send; the webhook token is masked when no one watches."""
    port, smtp_port = free_port(), free_port()
    config = _banner_config(tmp_path, port, smtp_port)
    output = await _serve_until_banner(["--log-format", "json"], tmp_path, port)
    assert "create the first manager" in output
    [command] = [line.strip() for line in output.splitlines() if "managers create" in line]
    assert command.endswith(
        f"managers create 'Your Name' --operator --permission admin --email you@example.com -c {config}"
    )
    assert "sign in: https://support.example.com/ " in output
    assert "inbox API: https://support.example.com/api/v1" in output
    assert "https://support.example.com/api/v1/openapi.json" in output
    assert "POST https://support.example.com/hooks/acme-talktalk?token=tk-3…" in output
    assert PATH_TOKEN not in output  # stdout is a pipe here: a service's captured output
    assert f"forward mail for acme@in.example.com to SMTP 127.0.0.1:{smtp_port}" in output

    # The printed command works as it is and then the banner counts the manager.
    created = subprocess.run(
        shlex.split(command.replace("'Your Name'", "Kim")),
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert "API token (shown once)" in created.stdout
    assert (
        "set-password link (once, within 24 h): https://support.example.com/set-password/" in created.stdout
    )


def test_logs_are_readable_lines_on_a_terminal_and_json_lines_otherwise() -> None:
    """``auto`` decides by whether stderr is a terminal (a real pty here); ``--log-format``
    forces either."""
    import os
    import pty

    script = (
        "import logging, sys\n"
        "from bridgekit.logs import setup_logging\n"
        "setup_logging('INFO', sys.argv[1])\n"
        "logging.getLogger('bridgekit.test').warning('주문 %s failed', 42, extra={'chat_id': 7})\n"
    )

    def run_on_pty(fmt: str) -> str:
        leader, follower = pty.openpty()
        try:
            subprocess.run(
                [sys.executable, "-c", script, fmt], stderr=follower, env=env(), check=True, timeout=30
            )
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: the pty has no writer left
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode()
        finally:
            os.close(leader)

    def run_on_pipe(fmt: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, fmt], capture_output=True, text=True, env=env(), check=True
        )
        return done.stderr

    on_terminal = run_on_pty("auto").strip()
    assert not on_terminal.startswith("{")
    assert "WARNING bridgekit.test: 주문 42 failed  chat_id=7" in on_terminal

    piped = json.loads(run_on_pipe("auto"))
    assert piped["msg"] == "주문 42 failed"
    assert piped["chat_id"] == 7
    assert piped["level"] == "warning"

    assert json.loads(run_on_pty("json").strip())["msg"] == "주문 42 failed"
    assert "WARNING bridgekit.test: 주문 42 failed" in run_on_pipe("text")


def test_an_unknown_log_format_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridgekit.cli", "plugins"],
        cwd=tmp_path,
        env={**env(), "BRIDGEKIT_LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "log format must be one of auto, json, text" in done.stderr
    assert "Traceback" not in done.stderr
