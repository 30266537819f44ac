"""Webhook events become inbound messages a manager can read (I9, I17; SPEC "Data flow").

Every LINE event type ends up as one stored message — never an error — and media content
is fetched over HTTP from the (sandbox) data API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest
from bridgekit_line import events
from bridgekit_line.plugin import CHANNEL, LinePlugin
from bridgekit_line.sandbox import LineSandbox

from bridgekit.exceptions import MalformedDelivery
from bridgekit.model import CustomerEvent, Edit, InboxSlot, Integration, Retraction

MakeIntegration = Callable[..., Integration]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 64 + b"\xff\xd9"


def test_channel_declaration_i9_i19_p3() -> None:
    """LINE sits in the LINE inbox slot (P3), carries its mark (I9), shows "sent" not
    "read" (I19), supports images and reopens closed chats."""
    assert CHANNEL.name == "line"
    assert CHANNEL.title == "LINE"
    assert CHANNEL.inbox_slot == InboxSlot.LINE
    assert CHANNEL.capabilities.reports_reads is False
    assert CHANNEL.capabilities.supports_images is True
    assert CHANNEL.closed_chat_policy == "reopen"
    assert CHANNEL.mark


async def test_console_verify_ping_is_an_empty_result(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """The console's "Verify" sends a signed body with no events: 200 and nothing stored."""
    result = await plugin.bridgekit_ingest(integration, line.webhooks.delivery([]))
    assert list(result.messages) == []
    assert result.response is None  # the core's default 200 OK


async def test_text_message_threads_on_the_user_and_keeps_reply_token(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    event = line.webhooks.text(user, "Where is my order #42?")
    (message,) = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages
    assert message.text == "Where is my order #42?"
    assert message.thread_key == user
    assert (message.sender.kind, message.sender.value) == ("line", user)
    assert message.event_id == event["webhookEventId"]
    assert message.meta["reply_token"] == event["replyToken"]
    assert message.meta["event_timestamp"] == event["timestamp"]
    assert message.meta["is_redelivery"] is False
    assert isinstance(message.sent_at, datetime)
    assert message.automated is False


async def test_redelivery_carries_the_same_event_id(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """A redelivered event has the same webhookEventId, so the core's dedupe drops it."""
    event = line.webhooks.text(line.add_user("Mina"), "hello?")
    first = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages[0]
    again = (
        await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event], redelivery=True))
    ).messages[0]
    assert again.event_id == first.event_id
    assert again.meta["is_redelivery"] is True


async def test_image_content_is_fetched_from_the_data_api(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    event = line.webhooks.image(user, JPEG, "image/jpeg")
    (message,) = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages
    assert message.text == "[Image]"
    (attachment,) = message.attachments
    assert attachment.data == JPEG
    assert attachment.content_type == "image/jpeg"
    assert attachment.filename.endswith(".jpg")
    content_calls = [r for r in line.requests if r.path.endswith("/content")]
    assert [r.path for r in content_calls] == [f"/v2/bot/message/{event['message']['id']}/content"]
    assert content_calls[0].headers["Authorization"] == f"Bearer {line.access_token}"


async def test_video_audio_and_file_content_is_fetched(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    events = [
        line.webhooks.video(user, b"\x00\x00\x00\x18ftypmp42"),
        line.webhooks.audio(user, b"audio-bytes"),
        line.webhooks.file(user, b"%PDF-1.7 invoice", "invoice.pdf"),
    ]
    messages = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery(events))).messages
    assert [m.text for m in messages] == ["[Video]", "[Audio]", "[File] invoice.pdf (16 bytes)"]
    assert [m.attachments[0].data for m in messages] == [
        b"\x00\x00\x00\x18ftypmp42",
        b"audio-bytes",
        b"%PDF-1.7 invoice",
    ]
    assert messages[2].attachments[0].filename == "invoice.pdf"
    assert messages[0].meta["duration_ms"] == 3000


async def test_external_content_provider_keeps_the_url(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """Content that LINE does not host (contentProvider external) is linked, not fetched."""
    event = line.webhooks.image(line.add_user("Mina"), b"", external_url="https://cdn.example.com/p.jpg")
    (message,) = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages
    assert message.text == "[Image] https://cdn.example.com/p.jpg"
    assert message.attachments == ()
    assert message.meta["content_provider"]["type"] == "external"
    assert not [r for r in line.requests if r.path.endswith("/content")]


async def test_content_failure_keeps_the_message(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    """If the data API fails the customer's message is still stored, saying so."""
    line.fail_next(500, endpoint="content")
    event = line.webhooks.image(line.add_user("Mina"), JPEG)
    (message,) = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages
    assert message.text.startswith("[Image] (content could not be loaded")
    assert message.attachments == ()
    assert message.meta["content_pending"] is True
    assert message.meta["message_id"] == event["message"]["id"]


async def test_content_fetch_times_out_without_failing_ingest(
    line: LineSandbox, plugin: LinePlugin, make_integration: MakeIntegration
) -> None:
    line.delay_next(1.0, endpoint="content")
    integration = make_integration(content_timeout=0.2)
    event = line.webhooks.image(line.add_user("Mina"), JPEG)
    (message,) = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages
    assert "timed out" in message.meta["content_error"]


async def test_sticker_and_location_are_readable_text(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    events = [
        line.webhooks.sticker(user, "446", "1988"),
        line.webhooks.location(user, "Tokyo Tower", "4-2-8 Shibakoen, Minato", 35.6586, 139.7454),
    ]
    sticker, location = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery(events))).messages
    assert sticker.text == "[Sticker]"
    assert sticker.meta["sticker"]["packageId"] == "446"
    assert sticker.meta["sticker"]["stickerId"] == "1988"
    assert location.text == "[Location] Tokyo Tower, 4-2-8 Shibakoen, Minato (35.6586, 139.7454)"
    assert location.meta["location"]["latitude"] == 35.6586


async def test_follow_and_unfollow_are_customer_events_not_messages(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    events = [
        line.webhooks.follow(user),
        line.webhooks.unfollow(user),
        line.webhooks.follow(user, unblocked=True),
    ]
    result = await plugin.bridgekit_ingest(integration, line.webhooks.delivery(events))
    assert result.messages == []
    follow, unfollow, unblock = result.events
    assert isinstance(follow, CustomerEvent)
    assert isinstance(unfollow, CustomerEvent)
    assert isinstance(unblock, CustomerEvent)
    assert [e.kind for e in (follow, unfollow, unblock)] == ["follow", "unfollow", "follow"]
    assert follow.data["follow"] == {"isUnblocked": False}
    assert unblock.data["follow"] == {"isUnblocked": True}
    assert all(e.thread_key == user and e.sender.value == user for e in (follow, unfollow, unblock))
    assert [e.event_id for e in result.events] == [e["webhookEventId"] for e in events]


async def test_unsend_edit_and_postback_are_not_messages_and_unknown_events_are_left_out(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    postback = line.webhooks.event("postback", user, postback={"data": "action=buy&item=1"})
    unsend = line.webhooks.event("unsend", user, reply=False, unsend={"messageId": "325708"})
    edited = line.webhooks.event(
        "messageEdited", user, message={"id": "325708", "type": "text", "text": "edited"}
    )
    odd_message = line.webhooks.event("message", user, message={"id": "1", "type": "hologram"})
    no_source = line.webhooks.event("botSuspended", None, reply=False)
    result = await plugin.bridgekit_ingest(
        integration, line.webhooks.delivery([postback, unsend, edited, odd_message, no_source])
    )
    # An unknown message type is still a message the customer sent; an unknown event is not.
    (message,) = result.messages
    assert message.text == "[unsupported message type hologram]"
    assert message.meta["raw_message"]["type"] == "hologram"
    press, retraction, edit = result.events
    assert isinstance(press, CustomerEvent)
    assert (press.kind, press.data["postback"]) == ("postback", {"data": "action=buy&item=1"})
    assert retraction == Retraction(unsend["webhookEventId"], "325708", retraction.sent_at)
    assert isinstance(edit, Edit)
    assert (edit.message_ref, edit.text) == ("325708", "edited")


async def test_group_messages_thread_on_the_group_with_the_member_as_sender(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    user = line.add_user("Mina")
    group = "C" + "a" * 32
    room = "R" + "b" * 32
    events = [
        line.webhooks.text(user, "hi all", group_id=group),
        line.webhooks.text(user, "hi room", room_id=room),
        line.webhooks.event("join", None, group_id=group),
    ]
    result = await plugin.bridgekit_ingest(integration, line.webhooks.delivery(events))
    in_group, in_room = result.messages
    (join,) = result.events
    assert (in_group.thread_key, in_group.sender.value) == (group, user)
    assert (in_room.thread_key, in_room.sender.value) == (room, user)
    assert isinstance(join, CustomerEvent)
    assert (join.kind, join.thread_key, join.sender.kind) == ("join", group, "line_group")


async def test_event_without_webhook_event_id_gets_a_stable_id(
    line: LineSandbox, plugin: LinePlugin, integration: Integration
) -> None:
    event = line.webhooks.text(line.add_user("Mina"), "legacy")
    del event["webhookEventId"]
    first = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages[0]
    second = (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages[0]
    assert first.event_id == second.event_id
    assert first.event_id.startswith("sha256:")


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"destination": "U0"}',
        b'{"events": {}}',
        b'{"events": ["text"]}',
        b"\xff\xfe",
        b"{",
        # Fields of the wrong type (issue 12, item 10): no message from a bogus contact.
        b'{"events": [{"type": "message", "source": {"type": "user", "userId": 12345},'
        b' "message": {"id": "1", "type": "text", "text": "hi"}}]}',
        b'{"events": [{"type": "message", "source": {"type": "user", "userId": "U1"},'
        b' "message": {"id": "1", "type": "text", "text": {}}}]}',
        b'{"events": [{"type": "unsend", "source": {"type": "user", "userId": "U1"},'
        b' "unsend": {"messageId": 325708}}]}',
        b'{"destination": 7, "events": []}',
    ],
)
async def test_signed_but_unparseable_bodies_are_malformed(
    line: LineSandbox, plugin: LinePlugin, integration: Integration, body: bytes
) -> None:
    delivery = line.webhooks.delivery([])
    signed = type(delivery)(
        delivery.integration,
        "POST",
        delivery.path,
        {"x-line-signature": line.webhooks.signature(body)},
        {},
        body,
    )
    with pytest.raises(MalformedDelivery):
        await plugin.bridgekit_ingest(integration, signed)


def test_installed_entry_point_is_the_plugin_p2() -> None:
    """P2: LINE is an ordinary plugin, found through the ``bridgekit`` entry-point group."""
    from importlib.metadata import entry_points

    from bridgekit_line.plugin import LinePlugin

    (ep,) = [ep for ep in entry_points(group="bridgekit") if ep.name == "line"]
    assert isinstance(ep.load(), LinePlugin)


TEXT_EVENT: dict[str, object] = {
    "type": "message",
    "mode": "active",
    "timestamp": 1700000000123,
    "source": {"type": "user", "userId": "U1"},
    "webhookEventId": "01HEVENT",
    "deliveryContext": {"isRedelivery": False},
    "replyToken": "rt",
    "message": {"type": "text", "id": "m1", "text": "hi", "quoteToken": "q", "emojis": []},
}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"replyToken": "", "deliveryContext": {"isRedelivery": True}, "mode": "standby"},
        {"message": {"type": "text", "id": "", "quotedMessageId": "m0"}},
        {"source": {"type": "user", "userId": ""}},
        {"source": {"type": "group", "groupId": "G1", "userId": "U1"}},
        {"webhookEventId": ""},
        {"timestamp": None, "deliveryContext": None, "replyToken": None},
        {"message": {"type": "image", "id": "m2"}},
    ],
)
def test_the_text_message_shortcut_parses_like_every_other_event(changes: dict[str, object]) -> None:
    """parse_body takes a shortcut for text messages from a user: same messages, same meta
    in the same order (the stored JSON), as parse_event gives."""
    event = {k: v for k, v in {**TEXT_EVENT, **changes}.items() if v is not None}
    parsed = events.parse_body(json.dumps({"destination": "D", "events": [event]}).encode())
    expected = events.parse_event(event, "D")
    assert parsed.events == [expected]
    assert expected.message is not None
    assert parsed.events[0].message is not None
    assert list(parsed.events[0].message.meta.items()) == list(expected.message.meta.items())
