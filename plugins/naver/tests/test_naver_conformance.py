"""The ``naver`` plugin passes bridgekit's shared channel conformance suite, against the
TalkTalk sandbox over real HTTP on 127.0.0.1 (``?token=`` webhooks in, send API calls out).

TalkTalk events carry no id: the plugin's event id is a hash of the raw body (within a time
window, see ``events.event_id_for``). So the kit's "event id derived from the key" is the
body itself: the first post of a key fixes its exact bytes and every later post of that key
resends them (a redelivery), while a new key never reuses another key's bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bridgekit_naver.plugin import CHANNEL, NaverPlugin
from bridgekit_naver.sandbox import TalkTalkSandbox

from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import ChannelConformance, ConformanceKit

KEY = "ct_conformance_authorization_key"
TOKEN = "pt_conformance_3f8a1c6e92d04b75"
USER = "conformance-5KcCQTARWKNKv1IOvXwYQw"


class NaverKit(ConformanceKit):
    """Drives :class:`TalkTalkSandbox` for the suite; one customer, one fresh plugin per test."""

    __test__ = False
    plugin: NaverPlugin

    def __init__(self, sandbox: TalkTalkSandbox) -> None:
        self.sandbox = sandbox
        self.plugin = NaverPlugin()
        self.channel = CHANNEL
        self.inbox_slot = InboxSlot.NAVER_TALKTALK
        self.integration = {
            "channel": CHANNEL,
            "settings": {
                "api_base": sandbox.api_base,
                "allowed_ips": ["127.0.0.0/8", "::1"],
                # The id is then the body alone: the kit gives every key its own body, and a
                # redelivery burst straddling a 10 s window boundary cannot split in two.
                "dedupe_window_seconds": 0,
            },
            "secrets": {"authorization_key": KEY, "path_token": TOKEN},
        }
        # The exact body first sent under each key (and its text).
        self._bodies: dict[str, tuple[str, bytes]] = {}

    def body_for(self, key: str, text: str) -> bytes:
        """TalkTalk's ``send`` body for ``text``; the same key always gets the same bytes.

        Two genuine identical messages from one customer have identical bytes on TalkTalk
        too (only their arrival time differs). A key whose real body another key already
        used gets trailing whitespace — still the same JSON, so the same stored message —
        which keeps the two keys' event ids apart.
        """
        known = self._bodies.get(key)
        if known is not None:
            if known[0] != text:
                raise ValueError(f"key {key!r} was first posted with another text")
            return known[1]
        body = self.sandbox.encode(self.sandbox.text_event(USER, text))
        used = {existing for _, existing in self._bodies.values()}
        while body in used:
            body += b" "
        self._bodies[key] = (text, body)
        return body

    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        result = await self.sandbox.post_webhook(self.body_for(key, text), callback_url=hook_url)
        return result.status

    async def post_forged_message(self, hook_url: str, text: str) -> int:
        event = self.sandbox.text_event(USER, text)
        result = await self.sandbox.post_webhook(event, callback_url=hook_url, token=TOKEN + "-wrong")
        return result.status

    def delivered_texts(self) -> list[str]:
        texts: list[str] = []
        for sent in self.sandbox.sends:
            content = sent.get("textContent")
            if sent.get("event") == "send" and isinstance(content, dict):
                texts.append(content["text"])
        return texts

    def fail_next_sends(self, count: int) -> None:
        self.sandbox.fail_next("event", status=503, times=count)

    async def aclose(self) -> None:
        await self.plugin.aclose()


@pytest.fixture
async def naver_sandbox() -> AsyncIterator[TalkTalkSandbox]:
    async with TalkTalkSandbox(authorization_key=KEY, path_token=TOKEN) as sandbox:
        yield sandbox


class TestNaverConformance(ChannelConformance):
    @pytest.fixture
    async def kit(self, naver_sandbox: TalkTalkSandbox) -> AsyncIterator[ConformanceKit]:
        kit = NaverKit(naver_sandbox)
        yield kit
        await kit.aclose()


async def test_each_key_has_its_own_stable_body(naver_sandbox: TalkTalkSandbox) -> None:
    """Same key: byte-identical (a redelivery); another key, same text: different bytes."""
    kit = NaverKit(naver_sandbox)
    try:
        first = kit.body_for("a", "네")
        assert first == naver_sandbox.encode(naver_sandbox.text_event(USER, "네"))
        assert kit.body_for("a", "네") == first
        second = kit.body_for("b", "네")
        assert second != first
        assert kit.body_for("b", "네") == second
        assert kit.body_for("c", "네") not in (first, second)
    finally:
        await kit.aclose()
