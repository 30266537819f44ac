"""Three `bridgekit serve` processes on one PostgreSQL with the LINE sandbox (issue 17).

Webhooks from many users go round-robin to the three; one process is SIGKILLed mid-load and
started again. Every acknowledged message is stored once, the echo bot answers each once,
managers' replies posted to any process reach LINE once each, and a snooze set on one
process wakes once. (The event stream across processes is tested with LISTEN/NOTIFY.)
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from bridgekit_line.sandbox import LineSandbox

from bridgekit.testing.databases import postgres_admin_url, temporary_database
from tests.core.test_crash_recovery import operator_token
from tests.support.processes import env, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_admin_url() is None, reason="several processes need PostgreSQL"),
]

USERS = 30
MANY_USERS = 300  # the "done when": 300 users, three processes, under load
IN_FLIGHT = 48  # webhooks on their way at once in that test
ROUNDS = 4  # messages per user
KILL_AFTER = 50  # webhooks sent before process B is killed
RESTART_AFTER = 80  # ... and started again


class Process:
    """One `bridgekit serve` on its own port, sharing the configuration and the database."""

    def __init__(self, config: Path, port: int, name: str) -> None:
        self.config, self.port, self.name = config, port, name
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        log = (self.config.parent / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bridgekit.cli",
                "serve",
                "--config",
                str(self.config),
                "--port",
                str(self.port),
            ],
            cwd=self.config.parent,
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        async with aiohttp.ClientSession() as session:
            for _ in range(400):
                try:
                    async with session.get(f"{self.url}/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def _config(tmp_path: Path, db_url: str, line: LineSandbox, *, bot: bool = True) -> Path:
    settings, secrets = line.integration_settings(), line.integration_secrets()
    modules = '["tests.support.bots:echo_bot"]' if bot else "[]"
    path = tmp_path / "bridgekit.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[plugins]
enabled = ["line"]
modules = {modules}
[outbox]
base_delay = 0.05
max_delay = 0.5
poll_interval = 0.1
lease_seconds = 3
[integrations.acme]
channel = "line"
[integrations.acme.settings]
api_base = "{settings["api_base"]}"
data_api_base = "{settings["data_api_base"]}"
[integrations.acme.secrets]
channel_secret = "{secrets["channel_secret"]}"
channel_access_token = "{secrets["channel_access_token"]}"
"""
    )
    return path


@pytest.fixture
async def line() -> AsyncIterator[LineSandbox]:
    async with LineSandbox() as sandbox:
        yield sandbox


async def _until(check: object, what: str, seconds: float = 60.0) -> None:
    assert callable(check)
    for _ in range(int(seconds / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


async def test_three_processes_store_answer_deliver_and_wake_exactly_once(
    tmp_path: Path, line: LineSandbox
) -> None:
    async with temporary_database("postgresql", tmp_path) as db_url:
        config = _config(tmp_path, db_url, line)
        token = operator_token(config)
        processes = [Process(config, free_port(), name) for name in ("a", "b", "c")]
        try:
            for process in processes:  # one after the other: the first sets up the database
                await process.start()
            await _run(processes, line, db_url, token)
        finally:
            for process in processes:
                process.stop()


async def test_three_hundred_users_round_robin_across_three_processes_are_three_hundred_customers(
    tmp_path: Path, line: LineSandbox
) -> None:
    """Both messages of each user are sent at the same moment to two different processes, so
    every user's customer, contact and chat are raced for by two processes: one of each wins,
    because the database (not luck) allows one customer per handle and one chat per key."""
    async with temporary_database("postgresql", tmp_path) as db_url:
        config = _config(tmp_path, db_url, line, bot=False)
        processes = [Process(config, free_port(), name) for name in ("a", "b", "c")]
        try:
            for process in processes:
                await process.start()
            users = [line.add_user(f"User {n}") for n in range(MANY_USERS)]
            # u0's two messages, then u1's, ...: consecutive webhooks go to consecutive processes.
            events = [
                line.webhooks.text(user, f"m{r} from {n}") for n, user in enumerate(users) for r in range(2)
            ]
            gate = asyncio.Semaphore(IN_FLIGHT)
            statuses = Counter[int]()

            async def deliver(index: int, event: dict[str, object]) -> str:
                process = processes[index % len(processes)]
                async with gate:
                    for attempt in range(20):  # as LINE: a failed try is redelivered
                        response = await line.webhooks.post(
                            f"{process.url}/hooks/acme", [event], redelivery=attempt > 0
                        )
                        statuses[response.status] += 1
                        if response.status == 200:
                            return str(event["message"]["text"])  # type: ignore[index]
                        await asyncio.sleep(0.05)
                raise AssertionError(f"never acknowledged: {event}")

            started = time.monotonic()
            acknowledged = await asyncio.gather(*(deliver(i, e) for i, e in enumerate(events)))
            took = time.monotonic() - started
            assert len(acknowledged) == 2 * MANY_USERS, statuses
            conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
            try:
                stored = await conn.fetch("SELECT text FROM messages WHERE direction = 'inbound'")
                assert Counter(r["text"] for r in stored) == Counter(acknowledged)  # each stored once
                assert await conn.fetchval("SELECT count(*) FROM customers") == MANY_USERS
                assert await conn.fetchval("SELECT count(*) FROM chats") == MANY_USERS
                # ... and each user's two messages in the one chat of that user.
                per_chat = await conn.fetch(
                    "SELECT chat_id, count(*) AS n, min(text) AS first FROM messages"
                    " WHERE direction = 'inbound' GROUP BY chat_id"
                )
                assert len(per_chat) == MANY_USERS
                assert all(r["n"] == 2 for r in per_chat)
                assert {r["first"].split(" from ")[1] for r in per_chat} == {
                    str(n) for n in range(MANY_USERS)
                }
            finally:
                await conn.close()
            print(f"{len(events)} webhooks to 3 processes in {took:.1f} s; answers {dict(statuses)}")
        finally:
            for process in processes:
                process.stop()


async def _run(processes: list[Process], line: LineSandbox, db_url: str, token: str) -> None:
    a, b, _ = processes
    users = [line.add_user(f"User {n}") for n in range(USERS)]
    events = [
        line.webhooks.text(user, f"m{r} from {n}") for r in range(ROUNDS) for n, user in enumerate(users)
    ]
    acknowledged: list[str] = []
    refused = Counter[str]()

    async def deliver(index: int, event: dict[str, object]) -> None:
        """As LINE behind a load balancer: round-robin; a failed try goes to the next process,
        marked as a redelivery, until one acknowledges it."""
        for attempt in range(60):
            process = processes[(index + attempt) % len(processes)]
            try:
                response = await line.webhooks.post(
                    f"{process.url}/hooks/acme", [event], redelivery=attempt > 0
                )
            except aiohttp.ClientError:
                refused[process.name] += 1
                await asyncio.sleep(0.05)
                continue
            if response.status == 200:
                acknowledged.append(str(event["message"]["text"]))  # type: ignore[index]
                return
            refused[f"{process.name} {response.status}"] += 1
            await asyncio.sleep(0.05)
        raise AssertionError(f"never acknowledged: {event}")

    batch = 10
    assert KILL_AFTER % batch == 0
    assert RESTART_AFTER % batch == 0
    for start in range(0, len(events), batch):
        if start == KILL_AFTER:
            b.kill()  # mid-load: the webhooks still on their way to it fail and are sent again
        if start == RESTART_AFTER:
            await b.start()
        await asyncio.gather(*(deliver(i, events[i]) for i in range(start, min(start + batch, len(events)))))
    assert sorted(acknowledged) == sorted(str(e["message"]["text"]) for e in events)  # type: ignore[index]

    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        stored = await conn.fetch("SELECT text FROM messages WHERE direction = 'inbound'")
        assert Counter(r["text"] for r in stored) == Counter(acknowledged)  # each stored once
        assert await conn.fetchval("SELECT count(*) FROM customers") == USERS
        assert await conn.fetchval("SELECT count(*) FROM chats") == USERS

        # The echo bot answered each message once, whichever process ingested it.
        def echoes() -> Counter[str]:
            return Counter(m.text for m in line.sent if m.text and m.text.startswith("echo: "))

        async def all_echoed() -> bool:
            return sum(echoes().values()) >= len(acknowledged)

        await _until(all_echoed, "every message answered by the bot")

        # Managers' replies posted to any process reach LINE once each.
        chats = await conn.fetch("SELECT id FROM chats ORDER BY id")
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            for n, chat in enumerate(chats):
                process = processes[n % len(processes)]
                async with session.post(
                    f"{process.url}/api/v1/chats/{chat['id']}/messages", json={"text": f"answer {n}"}
                ) as resp:
                    assert resp.status == 201, await resp.text()

            def answers() -> Counter[str]:
                return Counter(m.text for m in line.sent if m.text and m.text.startswith("answer "))

            async def all_answered() -> bool:
                return sum(answers().values()) >= len(chats)

            await _until(all_answered, "every manager's reply delivered")

            # A snooze set on A wakes once, with one notification for its assignee.
            manager_id = await conn.fetchval("SELECT id FROM managers ORDER BY id LIMIT 1")
            snoozed = chats[0]["id"]
            until = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
            for body in (
                {"action": "assign", "manager_id": manager_id, "chat_ids": [snoozed]},
                {"action": "snooze", "until": until, "chat_ids": [snoozed]},
            ):
                async with session.post(f"{a.url}/api/v1/chats/bulk", json=body) as resp:
                    assert resp.status == 200, await resp.text()
                    assert [r["ok"] for r in await resp.json()] == [True], body

            async def woken() -> bool:
                state = await conn.fetchval("SELECT state FROM chats WHERE id = $1", snoozed)
                return bool(state == "open")

            await _until(woken, "the snoozed chat reopened", seconds=30)
        await asyncio.sleep(2.0)  # a second delivery, wake-up or notification would show now
        assert echoes() == Counter(f"echo: {text}" for text in acknowledged)
        assert answers() == Counter(f"answer {n}" for n in range(len(chats)))
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM notifications WHERE chat_id = $1 AND kind = 'snooze_ended'", snoozed
            )
            == 1
        )
        bot_replies = await conn.fetch("SELECT text FROM messages WHERE author_kind = 'bot'")
        assert Counter(r["text"] for r in bot_replies) == Counter(f"echo: {t}" for t in acknowledged)
    finally:
        await conn.close()
    assert refused, "process B was killed while webhooks went to it"
