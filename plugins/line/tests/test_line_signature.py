"""X-Line-Signature checks (ARCHITECTURE "Data flow": a bad signature keeps nothing).

The plugin must refuse anything not signed with the channel secret *before* it parses the
body, and agree with the official SDK about what a valid signature is.
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import replace

import pytest
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from bridgekit_line.signature import sign

from bridgekit.exceptions import MalformedDelivery, SignatureError
from bridgekit.model import Integration


async def test_good_signature_is_accepted(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    result = await plugin.bridgekit_ingest(
        integration, line.webhooks.delivery([line.webhooks.text(user, "hi")])
    )
    assert [m.text for m in result.messages] == ["hi"]


async def test_bad_signature_is_refused(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """A body signed with another secret is a forgery: SignatureError (401), nothing kept."""
    event = line.webhooks.text("U" + "0" * 32, "transfer all money")
    body = line.webhooks.body([event])
    forged = sign("not-the-channel-secret", body)
    with pytest.raises(SignatureError):
        await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event], signature=forged))


async def test_tampered_body_is_refused(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    delivery = line.webhooks.delivery([line.webhooks.text("U" + "1" * 32, "pay 10")])
    tampered = delivery.body.replace(b"pay 10", b"pay 99")
    with pytest.raises(SignatureError):
        await plugin.bridgekit_ingest(integration, replace(delivery, body=tampered))


async def test_missing_signature_is_refused(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    delivery = line.webhooks.delivery([line.webhooks.text("U" + "2" * 32, "hello")], sign_body=False)
    with pytest.raises(SignatureError, match="missing"):
        await plugin.bridgekit_ingest(integration, delivery)


async def test_signature_is_checked_before_parsing(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """Unsigned garbage is a SignatureError, not a MalformedDelivery: the core must not
    keep raw bodies an attacker posted."""
    delivery = line.webhooks.delivery([], sign_body=False)
    with pytest.raises(SignatureError):
        await plugin.bridgekit_ingest(integration, replace(delivery, body=b"{not json"))
    signed_garbage = replace(
        delivery, body=b"{not json", headers={"x-line-signature": sign(line.channel_secret, b"{not json")}
    )
    with pytest.raises(MalformedDelivery):
        await plugin.bridgekit_ingest(integration, signed_garbage)


async def test_non_ascii_signature_header_is_refused(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    delivery = line.webhooks.delivery([], signature="\u00e9t\u00e9")
    with pytest.raises(SignatureError):
        await plugin.bridgekit_ingest(integration, delivery)


def test_signature_matches_official_sdk(line: LineSandbox) -> None:
    """Cross-check with line-bot-sdk: its SignatureValidator accepts our signature and its
    WebhookParser reads the sandbox's events (so the sandbox's wire format is LINE's)."""
    webhook = pytest.importorskip("linebot.v3.webhook")
    messaging_events = pytest.importorskip("linebot.v3.webhooks")
    user = line.add_user("Sora")
    events = [
        line.webhooks.text(user, "こんにちは 👋"),
        line.webhooks.sticker(user),
        line.webhooks.location(user, "Tokyo Tower", "4-2-8 Shibakoen", 35.6586, 139.7454),
        line.webhooks.follow(user),
    ]
    body = line.webhooks.body(events)
    signature = line.webhooks.signature(body)
    assert webhook.SignatureValidator(line.channel_secret).validate(body.decode(), signature)
    assert (
        signature
        == base64.b64encode(hmac.new(line.channel_secret.encode(), body, "sha256").digest()).decode()
    )
    parsed = webhook.WebhookParser(line.channel_secret).parse(body.decode(), signature)
    assert [type(e).__name__ for e in parsed] == [
        "MessageEvent",
        "MessageEvent",
        "MessageEvent",
        "FollowEvent",
    ]
    assert isinstance(parsed[0].message, messaging_events.TextMessageContent)
    assert parsed[0].message.text == "こんにちは 👋"
    assert parsed[0].webhook_event_id == json.loads(body)["events"][0]["webhookEventId"]
    with pytest.raises(webhook.InvalidSignatureError):
        webhook.WebhookParser("other-secret").parse(body.decode(), signature)


@pytest.mark.parametrize("secret", ["", "s", "a" * 63, "b" * 64, "c" * 65, "d" * 200, "秘密の鍵" * 20])
@pytest.mark.parametrize("body", [b"", b"{}", b"x" * 64, b"y" * 1000])
def test_signature_is_hmac_sha256_for_any_key_length(secret: str, body: bytes) -> None:
    """The keyed HMAC kept per secret and copied per webhook gives exactly HMAC-SHA256, for
    keys shorter and longer than SHA-256's block, and stays correct when reused."""
    expected = base64.b64encode(hmac.new(secret.encode(), body, "sha256").digest()).decode()
    assert sign(secret, body) == expected
    assert sign(secret, body) == expected
