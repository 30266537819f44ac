"""What one client may cost the server (issue 12 items 5, 7, 12), probed over real sockets:
bodies refused before they are read, slow clients closed, token guesses and floods limited."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.payload import AsyncIterablePayload

from bridgekit.config import Config, LimitsConfig, parse_config
from bridgekit.engine.bridge import Bridge
from bridgekit.exceptions import ConfigError
from bridgekit.plugins import PluginHost
from bridgekit.storage import schema as s
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge
from bridgekit.web.app import create_app
from bridgekit.web.server import GuardedSite, runner_for, start_site
from tests.conftest import integration, signed
from tests.inbox.messages_helpers import customer_writes, rows
from tests.support.processes import env, free_port
from tests.support.testchannel import TestChannelPlugin

FAST = LimitsConfig(
    webhook_body_bytes=64 * 1024,
    upload_request_bytes=200_000,
    header_timeout=0.5,
    keepalive_timeout=0.5,
    body_timeout=0.5,
    connections_per_address=4,
    link_failures="5/minute",
    customer_posts="3/minute",
)
CHANNEL_LIMIT = 4096


@pytest.fixture
async def running(make_bridge, sandbox_url: str) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin(max_body_bytes=CHANNEL_LIMIT)},
        integrations={"acme": integration(sandbox_url)},
        config=Config(outbox=TEST_OUTBOX, max_body_bytes=1024 * 1024, limits=FAST),
    )
    return started


async def open_raw(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


def head(method: str, path: str, *lines: str) -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: bridgekit", *lines, "", ""]).encode()


async def answer(reader: asyncio.StreamReader, within: float) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of one response, which must arrive within ``within`` s."""
    async with asyncio.timeout(within):
        status = int((await reader.readline()).split()[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes the connection within ``seconds`` (anything sent is read)."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


# --- item 5: bodies before authentication -------------------------------------------------


async def test_a_webhook_announcing_a_huge_body_is_refused_before_any_of_it_is_sent(
    running: RunningBridge,
) -> None:
    reader, writer = await open_raw(running.url)
    writer.write(head("POST", "/hooks/acme", "Content-Length: 2000000000", "Content-Type: application/json"))
    await writer.drain()
    status, headers, body = await answer(reader, within=2)  # not a byte of the 2 GB was sent
    assert status == 413
    assert json.loads(body) == {
        "error": f"the body is larger than the limit of {CHANNEL_LIMIT} bytes",
        "code": "body_too_large",
        "details": {"limit": CHANNEL_LIMIT},
    }
    assert headers.get("connection") == "close"
    writer.close()
    assert await rows(running, s.raw_deliveries) == []
    async with running.session.get(f"{running.url}/metrics") as resp:
        metrics = await resp.text()
    assert 'bridgekit_ingest_total{integration="acme",outcome="too_large"} 1' in metrics


async def test_a_chunked_webhook_over_its_channel_limit_is_refused_and_not_stored(
    running: RunningBridge,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size shows as it streams
        for _ in range(CHANNEL_LIMIT // 1024 + 1):
            yield b" " * 1024

    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hi"})
    async with running.session.post(f"{running.url}/hooks/acme", data=chunks(), headers=headers) as resp:
        assert resp.status == 413
    assert await rows(running, s.raw_deliveries) == []
    assert await rows(running, s.messages) == []

    # A real delivery within the limit still arrives.
    status, _ = await running.post_hook("acme", body, headers)
    assert status == 200
    assert [m.text for m in await rows(running, s.messages)] == ["hi"]


async def test_a_stalled_webhook_body_is_answered_408_after_the_body_timeout(running: RunningBridge) -> None:
    reader, writer = await open_raw(running.url)
    writer.write(head("POST", "/hooks/acme", "Content-Length: 1000") + b'{"events": [')
    await writer.drain()
    started = time.monotonic()
    status, _, body = await answer(reader, within=3)
    assert status == 408
    assert time.monotonic() - started >= 0.4
    assert json.loads(body) == {"error": "the body did not arrive within 0.5 seconds"}
    writer.close()
    assert await rows(running, s.raw_deliveries) == []


async def test_a_wrong_customer_link_is_answered_before_its_body_is_sent(running: RunningBridge) -> None:
    reader, writer = await open_raw(running.url)
    writer.write(
        head(
            "POST",
            "/c/not-a-real-token/messages",
            "Content-Length: 30000000",
            "Content-Type: application/json",
        )
    )
    await writer.drain()
    status, _, body = await answer(reader, within=2)  # the 30 MB never left the client
    assert status == 404
    assert json.loads(body) == {"error": "this link is not valid"}
    writer.close()


async def test_a_customer_link_post_too_large_or_too_slow_is_refused_before_it_is_stored(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running)
    links = await running.api("GET", f"/chats/{chat_id}/links")
    path = str(links["customer_link"]).removeprefix(running.bridge.config.base_url) + "/messages"

    reader, writer = await open_raw(running.url)
    writer.write(head("POST", path, "Content-Length: 30000000", "Content-Type: application/json"))
    await writer.drain()
    status, _, _ = await answer(reader, within=2)
    assert status == 413  # over the app's 1 MiB, refused from the header alone
    writer.close()

    reader, writer = await open_raw(running.url)
    writer.write(head("POST", path, "Content-Length: 100", "Content-Type: application/json") + b'{"te')
    await writer.drain()
    status, _, _ = await answer(reader, within=3)
    assert status == 408
    writer.close()
    assert [m["kind"] for m in await running.messages(chat_id)] == ["customer"]


async def test_an_upload_announcing_more_than_the_request_total_stages_nothing(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running)
    token = running.session.headers["Authorization"]
    reader, writer = await open_raw(running.url)
    writer.write(
        head(
            "POST",
            f"/api/v1/chats/{chat_id}/messages",
            f"Authorization: {token}",
            "Content-Type: multipart/form-data; boundary=xyz",
            "Content-Length: 1200000000",
        )
    )
    await writer.drain()
    status, _, body = await answer(reader, within=2)
    assert status == 413
    assert "larger than the limit" in json.loads(body)["error"]
    writer.close()
    incoming = running.bridge.data_dir / "attachments" / "incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []


async def test_files_of_one_message_together_over_the_request_total_are_refused(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running)

    async def video() -> AsyncIterator[bytes]:  # streamed: no Content-Length tells the total
        for _ in range(12):
            yield b"\0" * 10_000

    writer = aiohttp.MultipartWriter("form-data")
    writer.append_json({"text": "two videos"}).set_content_disposition("form-data", name="payload")
    for name in ("a.mp4", "b.mp4"):  # each under the 1 GB per file, together over the total
        part = writer.append_payload(AsyncIterablePayload(video(), content_type="video/mp4"))
        part.set_content_disposition("form-data", name="files", filename=name)
    async with running.session.post(f"{running.url}/api/v1/chats/{chat_id}/messages", data=writer) as resp:
        assert resp.status == 413
        assert await resp.json() == {
            "error": "the files together are larger than the limit of 195.312 KB",
            "code": "files_too_large",
            "details": {"limit": "195.312 KB"},
        }
    assert await rows(running, s.attachments) == []
    stored = running.bridge.data_dir / "attachments"
    assert [p for p in stored.rglob("*") if p.is_file()] == []


# --- item 12: rate limits -------------------------------------------------------------------


async def test_customer_link_guesses_get_429_with_retry_after_while_other_addresses_still_work(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running)
    links = await running.api("GET", f"/chats/{chat_id}/links")
    link = str(links["customer_link"]).removeprefix(running.bridge.config.base_url)
    async with aiohttp.ClientSession() as guesser:
        statuses = []
        for n in range(7):
            async with guesser.get(f"{running.url}/c/guess-{n}") as resp:
                statuses.append(resp.status)
                retry_after = resp.headers.get("Retry-After")
        assert statuses == [404] * 5 + [429] * 2
        assert retry_after is not None
        assert 1 <= int(retry_after) <= 60
        async with guesser.get(f"{running.url}{link}") as resp:
            assert resp.status == 429  # the guessing address is held off, even with a real link

    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as customer:
        async with customer.get(f"{running.url}{link}") as resp:
            assert resp.status == 200
        async with customer.post(f"{running.url}{link}/messages", json={"text": "still me"}) as resp:
            assert resp.status == 201


async def test_a_customer_post_flood_gets_429_and_only_the_allowed_posts_are_stored(
    running: RunningBridge,
) -> None:
    chat_id = await customer_writes(running, user="u-1")
    other_chat = await customer_writes(running, user="u-2")
    base = running.bridge.config.base_url
    link = str((await running.api("GET", f"/chats/{chat_id}/links"))["customer_link"]).removeprefix(base)
    other = str((await running.api("GET", f"/chats/{other_chat}/links"))["customer_link"]).removeprefix(base)
    async with aiohttp.ClientSession() as customer:
        statuses = []
        for n in range(5):
            async with customer.post(f"{running.url}{link}/messages", json={"text": f"spam {n}"}) as resp:
                statuses.append(resp.status)
                retry_after = resp.headers.get("Retry-After")
        assert statuses == [201, 201, 201, 429, 429]
        assert retry_after is not None
        assert int(retry_after) >= 1
        async with customer.get(f"{running.url}{link}") as resp:
            assert resp.status == 200  # reading the chat is not a post
        async with customer.post(f"{running.url}{other}/messages", json={"text": "my own chat"}) as resp:
            assert resp.status == 201  # the limit is per link
    texts = [m["text"] for m in await running.messages(chat_id)]
    assert texts == ["hello", "spam 0", "spam 1", "spam 2"]


async def test_link_guesses_count_against_one_budget_across_processes_and_restarts(
    make_bridge, sandbox_url: str
) -> None:
    """Two bridges on one database (two processes of an install) share the guess budget, a
    bridge started later still knows it, and what a client sent is not stored in the clear."""

    async def start() -> RunningBridge:
        started: RunningBridge = await make_bridge(
            plugins={"testchat": TestChannelPlugin()},
            integrations={"acme": integration(sandbox_url)},
            config=Config(outbox=TEST_OUTBOX, limits=FAST),
        )
        return started

    first, second = await start(), await start()
    async with aiohttp.ClientSession() as guesser:

        async def guess(running: RunningBridge, n: int) -> int:
            async with guesser.get(f"{running.url}/c/guess-{n}") as resp:
                return resp.status

        assert [await guess(first, n) for n in range(3)] == [404] * 3
        assert [await guess(second, n) for n in range(3, 6)] == [404, 404, 429]  # 5 in all
        await first.close()
        assert await guess(await start(), 6) == 429  # a restart forgets nothing
    keys = [row.key for row in await rows(second, s.rate_hits)]
    assert len(keys) == 5
    assert all(len(key) == 64 and "127.0.0.1" not in key for key in keys)


# --- item 7: slow clients and connections per address ----------------------------------------


@pytest.fixture
def limits() -> LimitsConfig:
    return FAST


@pytest.fixture
def trusted_proxies() -> tuple[ipaddress.IPv4Network, ...]:
    return ()


@pytest.fixture
async def served(
    tmp_path: Path, limits: LimitsConfig, trusted_proxies: tuple[ipaddress.IPv4Network, ...]
) -> AsyncIterator[tuple[str, GuardedSite]]:
    """bridgekit served the way ``bridgekit serve`` serves it (SQLite; no storage is probed)."""
    config = replace(
        Config(outbox=TEST_OUTBOX, limits=limits, trusted_proxies=trusted_proxies),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
        data_dir=tmp_path / "data",
    )
    runner = runner_for(await create_app(Bridge(config, PluginHost())), limits)
    await runner.setup()
    try:
        site = await start_site(runner, "127.0.0.1", 0, limits)
        yield f"http://127.0.0.1:{site.port}", site
    finally:
        await runner.cleanup()


async def health(url: str, **session: Any) -> int:
    async with aiohttp.ClientSession(**session) as client, client.get(f"{url}/health") as resp:
        return resp.status


# aiohttp's own idle timer would close them too: set far off, so this is the header timeout's doing.
@pytest.mark.parametrize("limits", [replace(FAST, keepalive_timeout=30.0)])
async def test_connections_with_unfinished_headers_are_closed_after_the_header_timeout(
    served: tuple[str, GuardedSite],
) -> None:
    url, _ = served
    slow = [await open_raw(url) for _ in range(3)]
    for _, writer in slow:
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        await writer.drain()
    silent_reader, silent_writer = await open_raw(url)  # sends nothing at all
    closed = await asyncio.gather(*(closed_within(r, 2.0) for r, _ in [*slow, (silent_reader, None)]))
    assert closed == [True, True, True, True]
    assert await health(url) == 200
    for _, writer in [*slow, (None, silent_writer)]:
        writer.close()


async def test_a_body_that_stops_arriving_ends_with_408_and_a_closed_connection(
    served: tuple[str, GuardedSite],
) -> None:
    url, _ = served
    reader, writer = await open_raw(url)
    writer.write(head("POST", "/hooks/nobody", "Content-Length: 1000") + b"{")
    await writer.drain()
    status, _, _ = await answer(reader, within=2)
    assert status == 408
    assert await closed_within(reader, 2.0)
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(served: tuple[str, GuardedSite]) -> None:
    url, _ = served
    reader, writer = await open_raw(url)
    writer.write(head("GET", "/health"))
    status, _, _ = await answer(reader, within=5)
    assert status == 200
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # the next request's head, never finished
    assert await closed_within(reader, 2.0)
    writer.close()


@pytest.mark.parametrize("limits", [replace(FAST, header_timeout=30.0)])  # held open, not timed out
async def test_connections_over_the_cap_per_address_are_refused_and_others_still_served(
    served: tuple[str, GuardedSite],
) -> None:
    url, site = served
    held = [await open_raw(url) for _ in range(FAST.connections_per_address)]
    extra_reader, extra_writer = await open_raw(url)
    status, headers, body = await answer(extra_reader, within=2)
    assert status == 503
    assert headers["retry-after"] == "1"
    assert json.loads(body) == {"error": "too many connections from your address"}
    assert await closed_within(extra_reader, 1.0)
    extra_writer.close()

    # Another address is not affected...
    assert await health(url, connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))) == 200
    # ...and once this one's connections are closed it is served again.
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.1)
    assert site.guard is not None
    assert site.guard.open_by_address.get("127.0.0.1", 0) == 0
    assert await health(url) == 200


@pytest.mark.parametrize("trusted_proxies", [(ipaddress.ip_network("127.0.0.1/32"),)])
async def test_a_trusted_proxy_is_not_capped_by_connections_per_address(
    served: tuple[str, GuardedSite],
) -> None:
    url, _site = served
    port = int(url.rsplit(":", 1)[1])
    cap = FAST.connections_per_address

    async def beyond_the_cap(source: str) -> int:
        """Hold ``cap`` connections open from ``source``; the status one more gets."""
        held = [await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)) for _ in range(cap)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            writer.write(b"GET /health HTTP/1.1\r\nHost: bridgekit\r\nConnection: close\r\n\r\n")
            status = int((await asyncio.wait_for(reader.readline(), 5)).split()[1])
            writer.close()
            return status
        finally:
            for _, held_writer in held:
                held_writer.close()

    # The proxy carries many clients' connections: one more than the cap is served...
    assert await beyond_the_cap("127.0.0.1") == 200
    # ...while a client reaching bridgekit directly is still capped.
    assert await beyond_the_cap("127.0.0.2") == 503


@pytest.mark.slow
async def test_bridgekit_serve_applies_the_configured_limits(tmp_path: Path) -> None:
    """The real command (uvloop, the TOML ``[limits]`` table): slow heads closed, cap enforced."""
    port = free_port()
    (tmp_path / "bridgekit.toml").write_text(
        f"[server]\nport = {port}\n[limits]\nheader_timeout = 0.5\nconnections_per_address = 2\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridgekit.cli", "serve", "--config", "bridgekit.toml"],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                assert await health(url) == 200
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        first, second = await open_raw(url), await open_raw(url)
        third_reader, third_writer = await open_raw(url)
        status, _, _ = await answer(third_reader, within=2)
        assert status == 503
        for _reader, writer in (first, second):
            writer.write(b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nContent-")
        assert await asyncio.gather(closed_within(first[0], 2.0), closed_within(second[0], 2.0)) == [
            True,
            True,
        ]
        for writer in (first[1], second[1], third_writer):
            writer.close()
        await asyncio.sleep(0.1)
        assert await health(url) == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("limits_table", "message"),
    [
        ({"customer_posts": "lots"}, r'limits.customer_posts must be a rate like "30/minute"'),
        ({"body_timeout": 0}, "limits.body_timeout must be a positive number of seconds"),
        ({"connections_per_address": 0}, "limits.connections_per_address must be at least 1"),
        ({"connections_per_adress": 10}, "connections_per_adress"),  # a typo is named, not ignored
    ],
)
def test_a_wrong_limits_table_is_a_clear_configuration_error(
    limits_table: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"limits": limits_table}, env={})
