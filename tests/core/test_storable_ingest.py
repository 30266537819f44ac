"""Inbound text no database column can take (issue 12, item 8): NUL characters and lone
surrogates are cleaned before storage, the same way on SQLite and PostgreSQL, instead of
failing the delivery (500 and a redelivery that fails again)."""

from __future__ import annotations

import json

from tests.conftest import SECRET, integration
from tests.support.sandbox import SIGNATURE_HEADER, sign
from tests.support.testchannel import TestChannelPlugin


async def test_nul_and_lone_surrogates_from_a_provider_are_cleaned_and_stored_once(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    event = {
        "id": "ev-\ud800-1",
        "user": "u-\x001",
        "name": "Kim\x00 Minji",
        "title": "Order\x00 #12",
        "text": "where is \udc80 my\x00 parcel?",
    }
    body = json.dumps({"events": [event]}).encode()  # escaped: "\\ud800" is valid JSON text
    headers = {SIGNATURE_HEADER: sign(SECRET, body), "Content-Type": "application/json"}
    for _ in range(2):  # the redelivery is recognised as the same event
        status, _ = await running.post_hook("acme", body, headers)
        assert status == 200
    [chat] = await running.chats()
    assert chat["title"] == "Order #12"
    [message] = await running.messages(chat["id"])
    assert message["text"] == "where is \ufffd my parcel?"
    assert message["author_name"] == "Kim Minji"
