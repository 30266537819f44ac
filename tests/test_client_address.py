"""Client addresses behind a reverse proxy (``[server] trusted_proxies``), over real sockets: a
trusted proxy's ``X-Forwarded-For`` names the client for the per-address limits and stored
deliveries; nobody else's is believed, and a client cannot choose its address through it."""

from __future__ import annotations

import ipaddress

import aiohttp
import pytest
from sqlalchemy import select

from bridgekit.config import Config, LimitsConfig, parse_config
from bridgekit.exceptions import ConfigError
from bridgekit.storage import schema as s
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge
from bridgekit.web.client_address import TrustedProxies
from tests.conftest import integration, signed
from tests.inbox.messages_helpers import customer_writes
from tests.support.testchannel import TestChannelPlugin

LIMITS = LimitsConfig(link_failures="3/minute", connections_per_address=2)
# The test client connects from 127.0.0.1: it plays the proxy. 127.0.0.2 is a client that
# reaches bridgekit directly.
PROXY = (ipaddress.ip_network("127.0.0.1/32"),)


def config(trusted: tuple[ipaddress.IPv4Network, ...] = PROXY) -> Config:
    return Config(outbox=TEST_OUTBOX, limits=LIMITS, trusted_proxies=trusted)


@pytest.fixture
async def proxied(make_bridge, sandbox_url: str) -> RunningBridge:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()},
        integrations={"acme": integration(sandbox_url)},
        config=config(),
    )
    return running


def connector(local_addr: str | None) -> aiohttp.TCPConnector:
    """From ``local_addr`` (another loopback address: another client), else from 127.0.0.1."""
    return aiohttp.TCPConnector(local_addr=(local_addr, 0) if local_addr else None)


async def guesses(url: str, forwarded_for: str | None, count: int, source: str | None = None) -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    statuses = []
    async with aiohttp.ClientSession(connector=connector(source)) as client:
        for n in range(count):
            async with client.get(f"{url}/c/guess-{n}", headers=headers) as resp:
                statuses.append(resp.status)
    return statuses


async def test_behind_a_trusted_proxy_link_guesses_are_limited_per_forwarded_client(
    proxied: RunningBridge,
) -> None:
    url = proxied.url
    assert await guesses(url, "203.0.113.7", 4) == [404, 404, 404, 429]
    # Another customer behind the same proxy is not held off by the first one's guesses...
    assert await guesses(url, "198.51.100.9", 1) == [404]
    # ...and the guesser cannot pass for them: what it writes itself stays left of the address
    # the proxy appended, which is the one read.
    assert await guesses(url, "198.51.100.9, 203.0.113.7", 1) == [429]


async def test_a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address(
    proxied: RunningBridge,
) -> None:
    statuses = []
    for n in range(4):  # a new forwarded address each time: ignored, 127.0.0.2 is counted
        statuses += await guesses(proxied.url, f"192.0.2.{n}", 1, source="127.0.0.2")
    assert statuses == [404, 404, 404, 429]


async def test_without_trusted_proxies_the_header_is_ignored(make_bridge, sandbox_url: str) -> None:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()},
        integrations={"acme": integration(sandbox_url)},
        config=config(trusted=()),
    )
    statuses = []
    for n in range(4):
        statuses += await guesses(running.url, f"192.0.2.{n}", 1)
    assert statuses == [404, 404, 404, 429]


async def test_a_webhook_through_a_trusted_proxy_is_stored_with_the_clients_address(
    proxied: RunningBridge,
) -> None:
    body, headers = signed({"id": "ev-proxied", "user": "u-9", "text": "via the proxy"})
    status, answer = await proxied.post_hook("acme", body, {**headers, "X-Forwarded-For": "203.0.113.7"})
    assert status == 200, answer
    async with aiohttp.ClientSession(connector=connector("127.0.0.2")) as direct:
        body, headers = signed({"id": "ev-direct", "user": "u-9", "text": "not via the proxy"})
        forged = {**headers, "X-Forwarded-For": "198.51.100.9"}
        async with direct.post(f"{proxied.url}/hooks/acme", data=body, headers=forged) as resp:
            assert resp.status == 200
    async with proxied.bridge.db.read() as conn:
        remotes = (
            await conn.execute(select(s.raw_deliveries.c.remote).order_by(s.raw_deliveries.c.id))
        ).all()
    assert [r.remote for r in remotes] == ["203.0.113.7", "127.0.0.2"]


async def test_the_customer_chat_still_works_through_the_proxy(proxied: RunningBridge) -> None:
    chat_id = await customer_writes(proxied)
    links = await proxied.api("GET", f"/chats/{chat_id}/links")
    link = str(links["customer_link"]).removeprefix(proxied.bridge.config.base_url)
    headers = {"X-Forwarded-For": "203.0.113.7"}
    async with (
        aiohttp.ClientSession() as customer,
        customer.post(f"{proxied.url}{link}/messages", json={"text": "hi"}, headers=headers) as resp,
    ):
        assert resp.status == 201


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("127.0.0.1", None, "127.0.0.1"),  # no header: the peer
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", " 203.0.113.7:4711 ", "203.0.113.7"),  # a port, spaces
        ("127.0.0.1", "[2001:db8::7]:443", "2001:db8::7"),
        ("127.0.0.1", "fe80::7%eth0", "fe80::7"),
        ("::ffff:127.0.0.1", "203.0.113.7", "203.0.113.7"),  # a dual-stack socket's peer
        ("127.0.0.1", "::ffff:203.0.113.7", "203.0.113.7"),  # the IPv4 address it maps
        ("127.0.0.1", "unknown", "127.0.0.1"),  # not an address: the last trusted hop
        ("127.0.0.1", "203.0.113.7, unknown", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"),  # behind two trusted hops
        ("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3", "203.0.113.7"),  # what the client wrote
        ("127.0.0.1", "10.9.9.9, 10.1.2.3", "10.9.9.9"),  # every hop trusted: the leftmost
        ("192.0.2.1", "203.0.113.7", "192.0.2.1"),  # an untrusted peer's header is not read
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, forwarded_for: str | None, client: str
) -> None:
    trusted = TrustedProxies((*PROXY, ipaddress.ip_network("10.0.0.0/8")))
    assert trusted.client_of(peer, forwarded_for) == client


def test_trusted_proxies_are_addresses_or_networks_and_a_wrong_one_is_named() -> None:
    parsed = parse_config({"server": {"trusted_proxies": ["10.0.0.0/8", "::1", "192.168.1.7"]}})
    assert [str(n) for n in parsed.trusted_proxies] == ["10.0.0.0/8", "::1/128", "192.168.1.7/32"]
    assert parse_config({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies: '10\.0\.0\.300' is not an address"):
        parse_config({"server": {"trusted_proxies": ["10.0.0.300"]}})
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies has the wrong type"):
        parse_config({"server": {"trusted_proxies": "10.0.0.0/8"}})
