"""Nothing acknowledged is lost: SIGKILL a real `bridgekit serve` between acknowledgement and
delivery, restart it, and every acknowledged outbound message is delivered exactly once."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import SECRET, signed
from tests.support.processes import env, free_port
from tests.support.sandbox import SandboxProvider

pytestmark = pytest.mark.slow


def operator_token(config: Path) -> str:
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridgekit.cli",
            "managers",
            "create",
            "Operator",
            "--operator",
            "--config",
            str(config),
        ],
        cwd=config.parent,
        env=env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return re.search(r"(bk_\S+)", created.stdout).group(1)  # type: ignore[union-attr]


def write_config(
    tmp_path: Path, db_url: str, port: int, sandbox_url: str, lease: str = "lease_seconds = 2"
) -> Path:
    path = tmp_path / "bridgekit.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[server]
port = {port}
[plugins]
enabled = []
modules = ["tests.support.testchannel:plugin", "tests.support.bots:echo_bot"]
[outbox]
base_delay = 0.05
max_delay = 0.5
poll_interval = 0.1
{lease}
[integrations.acme]
channel = "testchat"
settings = {{ api_base = "{sandbox_url}" }}
secrets = {{ secret = "{SECRET}", token = "test-token" }}
"""
    )
    return path


class Server:
    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridgekit.cli", "serve", "--config", str(self.config)],
            cwd=self.config.parent,
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.config.parent / "server.log", "ab"),  # noqa: SIM115
        )
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("server did not start: " + (self.config.parent / "server.log").read_text())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc and server.proc.poll() is None:
            server.proc.terminate()
            server.proc.wait(10)


async def test_sigkill_between_acknowledgement_and_delivery_loses_nothing_and_sends_once(
    tmp_path: Path, db_url: str, sandbox: SandboxProvider, sandbox_url: str, servers: list[Server]
) -> None:
    port = free_port()
    config = write_config(tmp_path, db_url, port, sandbox_url)
    token = operator_token(config)

    sandbox.delay = 30  # the provider hangs: sends are in flight when the process dies
    first = Server(config, port)
    servers.append(first)
    await first.start()
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for n in range(3):  # customers write; each is acknowledged, and the bot will answer
            body, headers = signed({"id": f"ev-{n}", "user": f"u-{n}", "text": f"question {n}"})
            async with session.post(f"{base}/hooks/acme", data=body, headers=headers) as resp:
                assert resp.status == 200
        async with session.get(f"{base}/api/v1/chats") as resp:
            page = await resp.json()
            chat_ids = [c["id"] for c in (page["chats"] if isinstance(page, dict) else page)]
        for n, chat_id in enumerate(chat_ids):  # managers reply; each reply is acknowledged
            async with session.post(
                f"{base}/api/v1/chats/{chat_id}/messages", json={"text": f"answer {n}"}
            ) as resp:
                assert resp.status == 201
        for _ in range(200):
            if sandbox.calls:
                break
            await asyncio.sleep(0.05)
        assert sandbox.calls, "nothing was in flight before the kill"
        first.kill()

        sandbox.delay = 0
        sandbox.accepted.clear()  # the hung calls never completed
        second = Server(config, port)
        servers.append(second)
        await second.start()
        expected = sorted([f"answer {n}" for n in range(3)] + [f"echo: question {n}" for n in range(3)])
        for _ in range(300):
            if len(sandbox.accepted) >= len(expected):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # any duplicate send would show up now
        assert sorted(sandbox.texts) == expected  # each acknowledged message delivered exactly once

        async with session.get(f"{base}/metrics") as resp:
            assert resp.status == 200
    second.kill()


async def test_a_restarted_server_resumes_sends_killed_mid_flight_without_waiting_out_the_lease(
    tmp_path: Path, db_url: str, sandbox: SandboxProvider, sandbox_url: str, servers: list[Server]
) -> None:
    """With the default 120 s lease, the restarted server reclaims its dead predecessor's
    leases at start: the reply killed mid-send is delivered within seconds, once."""
    port = free_port()
    config = write_config(tmp_path, db_url, port, sandbox_url, lease="")
    token = operator_token(config)
    sandbox.delay = 30  # the provider hangs: the reply is in flight when the process dies
    first = Server(config, port)
    servers.append(first)
    await first.start()
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        body, headers = signed({"id": "ev-1", "user": "u-1", "text": "question"})
        async with session.post(f"{base}/hooks/acme", data=body, headers=headers) as resp:
            assert resp.status == 200
        for _ in range(200):  # the echo bot's answer is in flight
            if sandbox.calls:
                break
            await asyncio.sleep(0.05)
        assert sandbox.calls, "nothing was in flight before the kill"
        first.kill()

        sandbox.delay = 0
        restarted_at = time.monotonic()
        second = Server(config, port)
        servers.append(second)
        await second.start()
        for _ in range(1200):
            if sandbox.accepted:
                break
            await asyncio.sleep(0.05)
        assert sandbox.texts == ["echo: question"]
        assert time.monotonic() - restarted_at < 20  # not the 120 s lease
        await asyncio.sleep(0.5)
        assert sandbox.texts == ["echo: question"]
    second.kill()
