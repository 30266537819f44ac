"""One redaction for every plugin (issue 12 item 4): a plugin that fails with a secret in
its exception — here a URL carrying the token and a configured secret quoted verbatim — leaks
it neither into the stored error, nor the API, nor any log line or traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

import bridgekit
from bridgekit.logs import JsonFormatter
from bridgekit.model import DeliveryResult, Integration, OutboundMessage
from bridgekit.storage import schema as s
from tests.conftest import integration, signed
from tests.support.testchannel import TestChannelPlugin

TOKEN = "tok-9d8c7b6a5f4e"


class LeakyPlugin(TestChannelPlugin):
    """Sends fail with an exception text that names the token twice, as HTTP clients do."""

    @bridgekit.hookimpl
    async def bridgekit_deliver(self, integration: Integration, message: OutboundMessage) -> DeliveryResult:
        token = integration.secrets["token"]
        raise RuntimeError(f"GET https://api.example/v1/send?access_token={token} failed; sent {token}")


async def test_a_plugin_error_with_a_token_is_stored_and_logged_redacted(
    make_bridge: Any, sandbox_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = integration(sandbox_url)
    spec["secrets"]["token"] = TOKEN
    running = await make_bridge(plugins={"testchat": LeakyPlugin()}, integrations={"acme": spec})
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hi"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    (chat,) = await running.chats()
    await running.reply(chat["id"], "hello")

    async def failed() -> list[dict[str, Any]]:
        return [m for m in await running.messages(chat["id"]) if m["delivery_status"] == "failed"]

    (reply,) = await running.wait_for(failed, timeout=20)
    async with running.bridge.db.read() as conn:
        last_error = (await conn.execute(select(s.outbox.c.last_error))).scalar_one()
    assert reply["delivery_error"] == last_error
    assert last_error == (
        "RuntimeError: GET https://api.example/v1/send?access_token=[redacted] failed; sent [redacted]"
    )
    crash = [r for r in caplog.records if r.getMessage().startswith("deliver raised in plugin")]
    assert crash  # the traceback is logged...
    formatted = [logging.Formatter().format(r) for r in caplog.records]
    formatted += [JsonFormatter().format(r) for r in caplog.records]
    assert any("RuntimeError: GET https://api.example" in line for line in formatted)
    assert not [line for line in formatted if TOKEN in line]  # ...without the token
    assert TOKEN not in json.dumps(await running.messages(chat["id"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "url='https://graph.example/v1/me?fields=name&access_token=EAAB1&appsecret_proof=9f8e'",
            "url='https://graph.example/v1/me?fields=name&access_token=[redacted]&appsecret_proof=[redacted]'",
        ),
        ("POST https://bot:hunter22@smtp.example:587/", "POST https://[redacted]@smtp.example:587/"),
        (
            '{"error": "bad", "client_secret": "abc\\"def", "id": 7}',
            '{"error": "bad", "client_secret": "[redacted]", "id": 7}',
        ),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]"),
        (
            "channel_secret=xyz; idempotency_key=k-1 code=190",
            "channel_secret=[redacted]; idempotency_key=[redacted] code=190",
        ),
        (
            "nothing secret here: tokens expire, key rotation",
            "nothing secret here: tokens expire, key rotation",
        ),
    ],
)
def test_redact_hides_secret_parameters_and_credentials_and_is_stable(text: str, expected: str) -> None:
    assert bridgekit.redact(text) == expected
    assert bridgekit.redact(expected) == expected  # stored errors are logged again: no "[redacted]]"
