"""Naver's source-address allow-list behind a reverse proxy: with the proxy in ``[server]
trusted_proxies`` the address checked is the one it forwarded, so ``allowed_ips`` can name
TalkTalk's servers; a forged ``X-Forwarded-For`` from anyone else is not believed."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from bridgekit_naver.plugin import NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox

from bridgekit.config import Config
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge

KEY = "ct_proxy_authorization_key"
TOKEN = "pt_proxy_4b1e9a7c2d5f8e03"
NAVER = "117.52.141.200"  # within the range the allow-list names
ELSEWHERE = "203.0.113.9"


@pytest.fixture
async def naver() -> AsyncIterator[TalkTalkSandbox]:
    sandbox = TalkTalkSandbox(authorization_key=KEY, path_token=TOKEN)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def running(
    make_bridge: Callable[..., Awaitable[RunningBridge]], naver: TalkTalkSandbox
) -> AsyncIterator[RunningBridge]:
    plugin = NaverPlugin()
    bridge = await make_bridge(
        plugins={"naver": plugin},
        integrations={
            "acme": {
                "channel": "naver",
                "settings": {"api_base": naver.api_base, "allowed_ips": ["117.52.141.192/27"]},
                "secrets": {"authorization_key": KEY, "path_token": TOKEN},
            }
        },
        # The test client connects from 127.0.0.1: it plays the proxy.
        config=Config(outbox=TEST_OUTBOX, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),)),
    )
    naver.callback_url = f"{bridge.url}/hooks/acme"
    yield bridge
    await plugin.aclose()


async def post(naver: TalkTalkSandbox, text: str, forwarded_for: str, source: str = "127.0.0.1") -> int:
    body = naver.encode(naver.text_event("5KcCQTARWKNKv1IOvXwYQw", text))
    headers = {"Content-Type": "application/json;charset=UTF-8", "X-Forwarded-For": forwarded_for}
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(naver.webhook_url(None, None), data=body, headers=headers) as resp,
    ):
        return resp.status


async def test_talktalk_through_a_trusted_proxy_passes_the_allow_list_and_others_do_not(
    running: RunningBridge, naver: TalkTalkSandbox
) -> None:
    assert await post(naver, "via the proxy, from TalkTalk", NAVER) == 200
    # Someone else through the same proxy is refused, like a direct request from there.
    assert await post(naver, "via the proxy, from elsewhere", ELSEWHERE) == 401
    # A request that does not come from the proxy cannot claim to be TalkTalk.
    assert await post(naver, "forged", NAVER, source="127.0.0.2") == 401
    chats = await running.wait_for(running.chats)
    [chat] = chats
    texts = [m["text"] for m in await running.messages(chat["id"])]
    assert texts == ["via the proxy, from TalkTalk"]
