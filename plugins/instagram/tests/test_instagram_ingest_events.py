"""Every kind of Instagram messaging webhook becomes what a manager expects to see (I9, I19).

Attachments are fetched from the sandbox's CDN over real HTTP; failures degrade to a
readable note, never to a lost message.
"""

from __future__ import annotations

from typing import Any

import pytest
from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from ig_helpers import integration_for, raw_post, webhook

from bridgekit.exceptions import MalformedDelivery
from bridgekit.model import CustomerEvent, DeliveryStatus, Edit, Integration, Retraction

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_text_message_becomes_customer_message_threaded_by_igsid(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    event = meta.text_event("IGSID-7", "안녕하세요, 주문 문의요", mid="mid-1")
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))
    (message,) = result.messages
    assert message.event_id == "mid-1"
    assert message.text == "안녕하세요, 주문 문의요"
    assert message.thread_key == "IGSID-7"
    assert (message.sender.kind, message.sender.value) == ("instagram", "IGSID-7")
    assert message.sender.verified is True
    assert message.sender.shared is False
    # the event time travels in meta so deliver can judge the messaging window
    assert message.meta["timestamp"] == event["timestamp"]
    assert message.sent_at is not None
    assert int(message.sent_at.timestamp() * 1000) == event["timestamp"]
    assert not result.status_updates


async def test_echo_of_own_send_is_never_a_customer_message(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    echo = meta.echo_event("IGSID-7", "Thanks, we shipped it")
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, echo))
    assert result.messages == []


async def test_event_from_own_account_without_is_echo_is_ignored(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    event = meta.echo_event("IGSID-7", "sent from the Instagram app")
    del event["message"]["is_echo"]
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))
    assert result.messages == []


@pytest.mark.parametrize(
    ("kind", "content_type", "content"),
    [
        ("image", "image/png", PNG),
        ("video", "video/mp4", b"\x00\x00\x00\x18ftypmp42"),
        ("audio", "audio/mp4", b"\x00\x00\x00\x18ftypM4A "),
        ("file", "application/pdf", b"%PDF-1.4\n"),
    ],
)
async def test_attachment_content_is_fetched_into_the_message(
    ig_plugin: InstagramPlugin,
    integration: Integration,
    meta: MetaSandbox,
    kind: str,
    content_type: str,
    content: bytes,
) -> None:
    url = meta.add_media(content, content_type)
    result = await ig_plugin.bridgekit_ingest(
        integration, webhook(meta, meta.attachment_event("U1", [(kind, url)]))
    )
    (message,) = result.messages
    (attachment,) = message.attachments
    assert attachment.data == content
    assert attachment.content_type == content_type
    assert attachment.filename
    assert message.meta["attachments"] == [{"type": kind, "url": url}]
    assert "attachment_failures" not in message.meta


async def test_several_attachments_with_caption(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    urls = [meta.add_media(PNG, "image/png", name=f"p{i}.png") for i in range(3)]
    event = meta.attachment_event("U1", [("image", u) for u in urls], text="these three")
    (message,) = (await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))).messages
    assert message.text == "these three"
    assert len(message.attachments) == 3


@pytest.mark.parametrize("failure", ["missing", "server_error", "timeout"])
async def test_attachment_fetch_failure_degrades_to_readable_note(
    ig_plugin: InstagramPlugin, meta: MetaSandbox, failure: str
) -> None:
    integration = integration_for(meta, attachment_timeout_seconds=0.3)
    if failure == "missing":
        url = f"{meta.url}/cdn/media/expired"
    else:
        url = meta.add_media(PNG, "image/png")
        meta.fail_next(failure, endpoint="media", delay=5)
    event = meta.attachment_event("U1", [("image", url)])
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))
    (message,) = result.messages  # the message is never lost
    assert message.attachments == ()
    assert url in message.text
    assert "could not be loaded" in message.text
    (note,) = message.meta["attachment_failures"]
    assert note["url"] == url
    assert note["type"] == "image"


async def test_story_reply_is_readable_with_story_in_meta(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    story = "https://lookaside.example/story/123"
    event = meta.story_reply_event("U1", "이 상품 재고 있나요?", story, story_id="S9")
    (message,) = (await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))).messages
    assert message.text == "Replied to your story: 이 상품 재고 있나요?"
    assert message.meta["story"] == {"kind": "reply", "id": "S9", "url": story}


async def test_story_mention_is_readable_and_its_media_not_stored(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    """Meta's story-mention policy forbids storing the story media: keep the URL only."""
    story = meta.add_media(PNG, "image/png")
    event = meta.story_mention_event("U1", story)
    (message,) = (await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))).messages
    assert message.text == f"Mentioned you in their story: {story}"
    assert message.attachments == ()
    assert message.meta["story"] == {"kind": "mention", "url": story}
    assert meta.media_requests == []


async def test_reaction_is_a_customer_event_with_stable_event_id(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    event = meta.reaction_event("U1", "mid-of-our-reply", "\u2764\ufe0f", timestamp=1_700_000_000_000)
    first_result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))
    assert first_result.messages == []  # a reaction is not something the customer wrote
    (first,) = first_result.events
    (again,) = (await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))).events
    assert isinstance(first, CustomerEvent)
    assert first.kind == "reaction"
    assert first.data["reaction"]["mid"] == "mid-of-our-reply"
    assert first.data["reaction"]["emoji"] == "\u2764\ufe0f"
    assert first.data["reaction"]["action"] == "react"
    assert first.event_id == again.event_id  # Meta's redelivery dedupes
    assert first.event_id != "mid-of-our-reply"

    unreact = meta.reaction_event("U1", "mid-of-our-reply", action="unreact", timestamp=1_700_000_100_000)
    (removed,) = (await ig_plugin.bridgekit_ingest(integration, webhook(meta, unreact))).events
    assert isinstance(removed, CustomerEvent)
    assert removed.data["reaction"]["action"] == "unreact"
    assert removed.event_id != first.event_id


async def test_i19_read_event_becomes_read_status_update(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, meta.read_event("U1", "our-mid-5")))
    assert result.messages == []
    (update,) = result.status_updates
    assert update.provider_message_id == "our-mid-5"
    assert update.status is DeliveryStatus.READ


async def test_unsent_message_is_a_retraction_not_colliding_with_the_original(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, meta.unsend_event("U1", "mid-9")))
    assert result.messages == []
    (retraction,) = result.events
    assert isinstance(retraction, Retraction)
    assert retraction.message_ref == "mid-9"
    assert retraction.event_id != "mid-9"


async def test_edit_postback_and_referral_are_not_messages(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    edit = meta.edit_event("U1", "mid-9", "fixed typo", num_edit=1)
    postback = meta.postback_event("U1", "Track my order", "TRACK_ORDER")
    referral = meta.referral_event("U1", "spring_sale")
    result = await ig_plugin.bridgekit_ingest(integration, webhook(meta, edit, postback, referral))
    assert result.messages == []
    changed, pressed, opened = result.events
    assert isinstance(changed, Edit)
    assert (changed.message_ref, changed.text) == ("mid-9", "fixed typo")
    assert isinstance(pressed, CustomerEvent)
    assert (pressed.kind, pressed.data["postback"]["payload"]) == ("postback", "TRACK_ORDER")
    assert isinstance(opened, CustomerEvent)
    assert (opened.kind, opened.data["referral"]["ref"]) == ("referral", "spring_sale")


@pytest.mark.parametrize(
    "event",
    [
        {"sender": {"id": 12345}, "timestamp": 1, "message": {"mid": "m1", "text": "hi"}},
        {"sender": {"id": "U1"}, "timestamp": 1, "message": {"mid": "m1", "text": {}}},
        {"sender": {"id": "U1"}, "timestamp": 1, "message": {"mid": ["m1"], "text": "hi"}},
        {"sender": {"id": "U1"}, "timestamp": {}, "message": {"mid": "m1", "text": "hi"}},
    ],
)
async def test_fields_of_the_wrong_type_are_malformed(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox, event: dict[str, Any]
) -> None:
    with pytest.raises(MalformedDelivery, match="wrong type"):
        await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))


async def test_share_and_reel_are_links_not_downloads(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    event = meta.attachment_event(
        "U1", [("share", "https://x.example/p/1"), ("ig_reel", "https://x.example/r/2")]
    )
    (message,) = (await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))).messages
    assert message.text == "Shared a post: https://x.example/p/1\nShared a reel: https://x.example/r/2"
    assert [link["type"] for link in message.meta["links"]] == ["share", "ig_reel"]
    assert message.attachments == ()


async def test_unsupported_message_type_is_still_shown(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    event: dict[str, Any] = meta.text_event("U1", "x", mid="m-gif")
    event["message"] = {"mid": "m-gif", "is_unsupported": True}
    (message,) = (await ig_plugin.bridgekit_ingest(integration, webhook(meta, event))).messages
    assert "does not pass on" in message.text
    assert message.meta["unsupported"] is True


async def test_several_events_in_one_delivery_and_standby(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    payload = meta.envelope(
        meta.text_event("U1", "one", mid="a"),
        meta.read_event("U1", "ours"),
        meta.text_event("U2", "two", mid="b"),
    )
    payload["entry"].append(
        {"id": meta.ig_user_id, "time": 1, "standby": [meta.text_event("U3", "three", mid="c")]}
    )
    body = meta.encode(payload)
    result = await ig_plugin.bridgekit_ingest(integration, raw_post(body, meta.sign(body)))
    assert [(m.thread_key, m.text) for m in result.messages] == [
        ("U1", "one"),
        ("U2", "two"),
        ("U3", "three"),
    ]
    assert result.messages[2].meta["standby"] is True
    assert [u.provider_message_id for u in result.status_updates] == ["ours"]


async def test_dashboard_test_event_in_changes_shape(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    """The App Dashboard's "Test" button sends a messages event as changes[].value with
    a timestamp in seconds as a string."""
    value = {
        "sender": {"id": "12334"},
        "recipient": {"id": "23245"},
        "timestamp": "1527459824",
        "message": {"mid": "random_mid", "text": "random_text"},
    }
    payload = {
        "object": "instagram",
        "entry": [{"id": "0", "time": 1, "changes": [{"field": "messages", "value": value}]}],
    }
    body = meta.encode(payload)
    (message,) = (await ig_plugin.bridgekit_ingest(integration, raw_post(body, meta.sign(body)))).messages
    assert message.text == "random_text"
    assert message.meta["timestamp"] == 1527459824000


async def test_comment_changes_and_other_objects_are_acknowledged_and_ignored(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox
) -> None:
    for payload in (
        {
            "object": "instagram",
            "entry": [{"id": "1", "time": 1, "changes": [{"field": "comments", "value": {}}]}],
        },
        {"object": "page", "entry": [{"id": "1", "time": 1, "messaging": [meta.text_event("U", "x")]}]},
    ):
        body = meta.encode(payload)
        result = await ig_plugin.bridgekit_ingest(integration, raw_post(body, meta.sign(body)))
        assert result.messages == []
        assert result.status_updates == []


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],
        {"object": "instagram"},
        {
            "object": "instagram",
            "entry": [{"id": "1", "messaging": [{"sender": {"id": "U"}, "message": {"text": "no mid"}}]}],
        },
        {
            "object": "instagram",
            "entry": [{"id": "1", "messaging": [{"message": {"mid": "m", "text": "no sender"}}]}],
        },
    ],
)
async def test_authentic_but_malformed_delivery_is_flagged(
    ig_plugin: InstagramPlugin, integration: Integration, meta: MetaSandbox, payload: Any
) -> None:
    body = meta.encode(payload)
    with pytest.raises(MalformedDelivery):
        await ig_plugin.bridgekit_ingest(integration, raw_post(body, meta.sign(body)))
