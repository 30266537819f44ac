"""Manager replies reach the customer on LINE exactly once (E5-style reply, I13, I14).

Reply API while the reply token is fresh and unused, push API otherwise; retries reuse
the same X-Line-Retry-Key so a lost response never becomes a second message; LINE's
limits and errors are mapped to what the outbox needs (transient vs permanent).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from bridgekit_line.outbound import retry_key
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox

from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import (
    Contact,
    DeliveryResult,
    DeliveryStatus,
    Integration,
    OutboundAttachment,
    OutboundMessage,
)

MakeIntegration = Callable[..., Integration]


async def _inbound_meta(
    line: LineSandbox, plugin: LinePlugin, integration: Integration, user: str
) -> Mapping[str, Any]:
    event = line.webhooks.text(user, "Is my parcel shipped?")
    return (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages[0].meta


def _outbound(
    user: str,
    text: str = "Yes, it left the warehouse today.",
    *,
    context: Mapping[str, Any] | None = None,
    attempt: int = 1,
    key: str = "outbox-key-1",
    attachments: tuple[OutboundAttachment, ...] = (),
) -> OutboundMessage:
    return OutboundMessage(
        message_id=1,
        chat_id=1,
        idempotency_key=key,
        recipient=Contact("line", user),
        thread_key=user,
        text=text,
        attachments=attachments,
        reply_context=dict(context or {}),
        attempt=attempt,
    )


MEDIA = "https://support.example.com/media"


def _image(
    tmp_path: Path, name: str = "photo.png", content_type: str = "image/png", media: str | None = MEDIA
) -> OutboundAttachment:
    """An attachment with a URL shaped like the core's signed one (None: no public_url)."""
    data = b"\x89PNG\r\n\x1a\n" + name.encode()
    path = tmp_path / f"{abs(hash(name)):x}"
    path.write_bytes(data)
    url = f"{media}/{abs(hash(name)) % 1000}/1700000000/sig/{name}" if media else None
    return OutboundAttachment(name, content_type, len(data), path, id=abs(hash(name)) % 1000, url=url)


# --- reply or push -------------------------------------------------------------------------


async def test_fresh_reply_token_uses_the_reply_api(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    meta = await _inbound_meta(line, plugin, integration, user)
    result = await plugin.bridgekit_deliver(integration, _outbound(user, context=meta))
    (sent,) = line.sent
    assert (sent.via, sent.to, sent.text) == ("reply", user, "Yes, it left the warehouse today.")
    assert result.status == DeliveryStatus.SENT
    assert result.provider_message_id == sent.id
    assert result.meta["via"] == "reply"


async def test_old_reply_token_is_not_used_push_instead(
    line: LineSandbox, plugin: LinePlugin, integration: Integration, clock: Any
) -> None:
    """Reply tokens are documented valid for one minute; we stop using them well before."""
    user = line.add_user("Mina")
    meta = await _inbound_meta(line, plugin, integration, user)
    clock.advance(31)
    result = await plugin.bridgekit_deliver(integration, _outbound(user, context=meta))
    (sent,) = line.sent
    assert (sent.via, sent.to) == ("push", user)
    assert sent.retry_key == retry_key("outbox-key-1", 0)
    assert result.meta["via"] == "push"
    assert not [r for r in line.requests if r.path.endswith("/reply")]


async def test_reply_token_is_used_only_once(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """Two manager replies to the same customer message: the second one is pushed (the
    outbox tells it an earlier answer exists, durably, so also after a restart)."""
    user = line.add_user("Mina")
    meta = await _inbound_meta(line, plugin, integration, user)
    await plugin.bridgekit_deliver(integration, _outbound(user, "first", context=meta, key="k1"))
    second = replace(_outbound(user, "second", context=meta, key="k2"), first_answer=False)
    await plugin.bridgekit_deliver(integration, second)
    assert [(m.via, m.text) for m in line.sent] == [("reply", "first"), ("push", "second")]
    assert len([r for r in line.requests if r.path.endswith("/reply")]) == 1


async def test_reply_token_rejected_by_line_falls_back_to_push(
    line: LineSandbox, plugin: LinePlugin, integration: Integration, clock: Any
) -> None:
    """LINE says "Invalid reply token" (nothing was sent): the same attempt pushes."""
    line.reply_token_ttl = 5
    user = line.add_user("Mina")
    meta = await _inbound_meta(line, plugin, integration, user)
    clock.advance(10)
    result = await plugin.bridgekit_deliver(integration, _outbound(user, context=meta))
    assert [(m.via, m.text) for m in line.sent] == [("push", "Yes, it left the warehouse today.")]
    assert result.meta["via"] == "push"


@pytest.mark.parametrize(
    ("attempt", "context_extra", "settings"),
    [
        (2, {}, {}),  # a retry: the first attempt may have used the token
        (1, {"is_redelivery": True}, {}),  # a redelivered event's token is not trusted
        (1, {}, {"use_reply_api": False}),  # switched off by configuration
    ],
)
async def test_push_is_used_when_reply_is_not_safe(
    line: LineSandbox,
    plugin: LinePlugin,
    make_integration: MakeIntegration,
    attempt: int,
    context_extra: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    integration = make_integration(**settings)
    user = line.add_user("Mina")
    meta = {**(await _inbound_meta(line, plugin, integration, user)), **context_extra}
    await plugin.bridgekit_deliver(integration, _outbound(user, context=meta, attempt=attempt))
    assert [m.via for m in line.sent] == ["push"]


async def test_no_reply_context_pushes_to_the_thread(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """A manager-started conversation (no inbound message yet) is a push."""
    user = line.add_user("Mina")
    await plugin.bridgekit_deliver(integration, _outbound(user))
    assert [(m.via, m.to) for m in line.sent] == [("push", user)]


async def test_group_chat_reply_goes_to_the_group(
    line: LineSandbox, plugin: LinePlugin, integration: Integration, clock: Any
) -> None:
    user, group = line.add_user("Ken"), "C" + "e" * 32
    event = line.webhooks.text(user, "hi", group_id=group)
    inbound = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages[0]
    clock.advance(40)
    message = _outbound(user, context=inbound.meta)
    await plugin.bridgekit_deliver(integration, replace(message, thread_key=group))
    assert [(m.via, m.to) for m in line.sent] == [("push", group)]


# --- retry keys ----------------------------------------------------------------------------


def test_retry_key_is_a_uuid_derived_from_the_idempotency_key() -> None:
    key = retry_key("outbox-key-1", 0)
    assert str(uuid.UUID(key)) == key
    assert retry_key("outbox-key-1", 0) == key  # the same after a restart
    assert retry_key("outbox-key-1", 1) != key
    assert retry_key("outbox-key-2", 0) != key


async def test_lost_response_retry_is_409_and_success_not_a_second_message(
    line: LineSandbox, plugin: LinePlugin, make_integration: MakeIntegration
) -> None:
    """LINE accepted the push but the response timed out. The retry (new attempt, even a
    new process) carries the same retry key: LINE answers 409, we report success."""
    integration = make_integration(request_timeout=0.2)
    user = line.add_user("Mina")
    line.delay_next(1.0, endpoint="push", after_accept=True)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        await plugin.bridgekit_deliver(integration, _outbound(user, attempt=1))
    assert len(line.sent) == 1  # it did go out

    restarted = LinePlugin()
    try:
        result = await restarted.bridgekit_deliver(integration, _outbound(user, attempt=2))
    finally:
        await restarted.aclose()
    assert len(line.sent) == 1  # and only once
    assert result.provider_message_id == line.sent[0].id
    assert result.meta["accepted_request_ids"] == [line.sent[0].request_id]
    keys = [r.headers["X-Line-Retry-Key"] for r in line.requests if r.path.endswith("/push")]
    assert keys == [retry_key("outbox-key-1", 0)] * 2


async def test_retry_after_server_error_sends_once(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    line.fail_next(500, endpoint="push")
    with pytest.raises(TransientDeliveryError):
        await plugin.bridgekit_deliver(integration, _outbound(user, attempt=1))
    await plugin.bridgekit_deliver(integration, _outbound(user, attempt=2))
    assert [m.text for m in line.sent] == ["Yes, it left the warehouse today."]


# --- LINE's limits -------------------------------------------------------------------------


async def test_long_text_is_split_into_several_text_objects(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    paragraph = "Thank you for waiting. " * 100  # 2300 characters
    text = "\n".join([paragraph] * 5)  # 11 504 characters
    await plugin.bridgekit_deliver(integration, _outbound(user, text))
    texts = [m.text or "" for m in line.sent]
    assert len(texts) == 3
    assert all(len(t) <= 5000 for t in texts)
    # nothing lost or added but the whitespace at the two cuts
    assert [word for t in texts for word in t.split()] == text.split()
    assert len({m.request_id for m in line.sent}) == 1  # one call


async def test_emoji_count_twice_toward_the_5000_limit(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """LINE counts UTF-16 units: 3000 emoji are 6000 units, so two text objects."""
    user = line.add_user("Mina")
    await plugin.bridgekit_deliver(integration, _outbound(user, "😀" * 3000))
    assert [len(m.text or "") for m in line.sent] == [2500, 500]


async def test_text_longer_than_five_objects_is_refused_clearly(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    with pytest.raises(PermanentDeliveryError, match="too long for LINE"):
        await plugin.bridgekit_deliver(integration, _outbound(user, "x" * 25_001))
    assert line.sent == []


async def test_more_than_five_objects_go_in_several_pushes_each_with_its_key(
    line: LineSandbox, plugin: LinePlugin, make_integration: MakeIntegration, tmp_path: Path
) -> None:
    integration = make_integration()
    user = line.add_user("Mina")
    meta = await _inbound_meta(line, plugin, integration, user)
    images = tuple(_image(tmp_path, f"p{i}.png") for i in range(6))
    message = _outbound(user, "Here are the photos", context=meta, attachments=images)
    line.fail_next(500, endpoint="push", times=1)
    # First call (5 objects) fails; the retry sends both calls, nothing twice.
    with pytest.raises(TransientDeliveryError):
        await plugin.bridgekit_deliver(integration, message)
    second_try = replace(message, attempt=2)
    result = await plugin.bridgekit_deliver(integration, second_try)
    assert [m.message["type"] for m in line.sent] == ["text"] + ["image"] * 6
    assert {m.via for m in line.sent} == {"push"}  # a reply could not cover two calls
    assert {m.retry_key for m in line.sent} == {retry_key("outbox-key-1", 0), retry_key("outbox-key-1", 1)}
    assert len(result.meta["sent_message_ids"]) == 7


async def test_partial_batch_failure_never_duplicates(
    line: LineSandbox, plugin: LinePlugin, make_integration: MakeIntegration, tmp_path: Path
) -> None:
    integration = make_integration()
    user = line.add_user("Mina")
    images = tuple(_image(tmp_path, f"q{i}.png") for i in range(6))
    message = _outbound(user, "photos", attachments=images)
    await plugin.bridgekit_deliver(integration, message)  # both calls accepted
    assert len(line.sent) == 7
    result = await plugin.bridgekit_deliver(integration, replace(message, attempt=2))
    assert len(line.sent) == 7  # both calls answered 409
    assert result.meta["accepted_request_ids"]


async def test_images_use_public_https_urls(
    line: LineSandbox, plugin: LinePlugin, make_integration: MakeIntegration, tmp_path: Path
) -> None:
    integration = make_integration()
    user = line.add_user("Mina")
    image = _image(tmp_path, "receipt.png")
    pdf = _image(tmp_path, "manual.pdf", "application/pdf")
    await plugin.bridgekit_deliver(integration, _outbound(user, "see attached", attachments=(image, pdf)))
    text, img, link = (m.message for m in line.sent)
    assert text == {"type": "text", "text": "see attached"}
    assert img == {"type": "image", "originalContentUrl": image.url, "previewImageUrl": image.url}
    assert link["text"] == f"📎 manual.pdf: {pdf.url}"


@pytest.mark.parametrize(
    ("media", "reason"), [(None, "public_url is not set"), ("http://support.example.com", "not an https")]
)
async def test_images_without_a_public_https_url_are_refused_clearly(
    line: LineSandbox,
    plugin: LinePlugin,
    integration: Integration,
    tmp_path: Path,
    media: str | None,
    reason: str,
) -> None:
    user = line.add_user("Mina")
    with pytest.raises(PermanentDeliveryError, match=reason):
        await plugin.bridgekit_deliver(
            integration, _outbound(user, attachments=(_image(tmp_path, media=media),))
        )
    assert line.sent == []


async def test_oversized_image_is_refused(
    line: LineSandbox, plugin: LinePlugin, make_integration: MakeIntegration, tmp_path: Path
) -> None:
    integration = make_integration()
    big = OutboundAttachment("huge.jpg", "image/jpeg", 11 * 1024 * 1024, tmp_path / "huge", id=1, url=MEDIA)
    with pytest.raises(PermanentDeliveryError, match="10 MB"):
        await plugin.bridgekit_deliver(integration, _outbound(line.add_user("Mina"), attachments=(big,)))


# --- failure mapping -----------------------------------------------------------------------


async def test_server_errors_are_transient(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    line.fail_next(503, endpoint="push")
    with pytest.raises(TransientDeliveryError, match="503"):
        await plugin.bridgekit_deliver(integration, _outbound(line.add_user("Mina")))


async def test_rate_limit_is_transient_with_retry_after(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    line.fail_next(429, endpoint="push", retry_after=7)
    with pytest.raises(TransientDeliveryError) as caught:
        await plugin.bridgekit_deliver(integration, _outbound(line.add_user("Mina")))
    assert caught.value.retry_after == 7.0
    assert "The API rate limit has been exceeded" in caught.value.reason


async def test_monthly_limit_is_permanent(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """No backoff brings back a used-up monthly quota; the manager sees LINE's reason."""
    line.fail_next(429, endpoint="push", message="You have reached your monthly limit.")
    with pytest.raises(PermanentDeliveryError, match="monthly limit"):
        await plugin.bridgekit_deliver(integration, _outbound(line.add_user("Mina")))


async def test_bad_request_is_permanent_with_line_message_and_details(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    line.fail_next(
        400,
        endpoint="push",
        message="The request body has 1 error(s)",
        details=[{"message": "May not be empty", "property": "messages[0].text"}],
    )
    with pytest.raises(PermanentDeliveryError) as caught:
        await plugin.bridgekit_deliver(integration, _outbound(line.add_user("Mina")))
    assert caught.value.reason == (
        "LINE API 400: The request body has 1 error(s) (messages[0].text: May not be empty)"
    )


async def test_wrong_access_token_is_permanent(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    bad = Integration(
        1, "acme", "line", integration.settings, {**integration.secrets, "channel_access_token": "x"}
    )
    with pytest.raises(PermanentDeliveryError, match="Authentication failed"):
        await plugin.bridgekit_deliver(bad, _outbound(line.add_user("Mina")))


async def test_forbidden_is_permanent(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    line.fail_next(403, endpoint="push")
    with pytest.raises(PermanentDeliveryError, match="403"):
        await plugin.bridgekit_deliver(integration, _outbound(line.add_user("Mina")))


async def test_unreachable_line_is_transient(plugin: LinePlugin) -> None:
    integration = Integration(
        1,
        "acme",
        "line",
        {"api_base": "http://127.0.0.1:9", "data_api_base": "http://127.0.0.1:9"},
        {"channel_secret": "s", "channel_access_token": "t"},
    )
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        await plugin.bridgekit_deliver(integration, _outbound("U" + "1" * 32))


def test_line_sends_are_not_billed(plugin: LinePlugin, integration: Integration) -> None:
    """LINE bills the account owner itself; nothing goes to the PU ledger."""
    assert plugin.bridgekit_bill(integration, _outbound("U" + "1" * 32), DeliveryResult("1")) is None
