"""Instagram events that are not messages, end to end through a running bridgekit on SQLite
and PostgreSQL: signed by the Meta sandbox, posted to the real webhook, read back through the
API (issue 12, items 17 and 10)."""

from __future__ import annotations

from typing import Any

from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from ig_helpers import secrets_for, settings_for
from sqlalchemy import select

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


async def _start(make_bridge: Any, meta: MetaSandbox) -> tuple[RunningBridge, str]:
    running: RunningBridge = await make_bridge(
        plugins={"instagram": InstagramPlugin()},
        integrations={
            "acme": {"channel": "instagram", "settings": settings_for(meta), "secrets": secrets_for(meta)}
        },
    )
    return running, f"{running.url}/hooks/acme"


async def test_deletion_retracts_edit_updates_and_reactions_postbacks_referrals_go_to_the_timeline(
    make_bridge: Any, meta: MetaSandbox
) -> None:
    running, hook = await _start(make_bridge, meta)
    picture = meta.add_media(PNG, "image/png", name="photo.png")
    sent = await meta.deliver(
        hook,
        meta.text_event("U1", "my address is 12 Elm St", mid="mid-text"),
        meta.attachment_event("U1", [("image", picture)], mid="mid-photo"),
        meta.text_event("U1", "see you at 3", mid="mid-time"),
    )
    assert sent.status == 200
    (chat,) = await running.wait_for(running.chats)

    changes = [
        meta.unsend_event("U1", "mid-text"),
        meta.unsend_event("U1", "mid-photo"),
        meta.edit_event("U1", "mid-time", "see you at 4", num_edit=1),
        meta.reaction_event("U1", "mid-of-our-reply", "\U0001f44d", reaction="like"),
        meta.postback_event("U1", "Track my order", "TRACK_ORDER"),
        meta.referral_event("U1", "spring_sale"),
    ]
    assert (await meta.deliver(hook, *changes)).status == 200
    assert (await meta.deliver(hook, *changes)).status == 200  # Meta redelivers

    messages = await running.messages(chat["id"])
    assert [(m["text"], m["retracted"], m["attachments"], m["edited_at"] is not None) for m in messages] == [
        ("", True, [], False),
        ("", True, [], False),
        ("see you at 4", False, [], True),
    ]
    assert len(await running.chats()) == 1
    panel = await running.api("GET", f"/customers/{chat['customer_id']}")
    events = list(reversed(panel["events"]))
    assert [e["name"] for e in events] == ["reaction", "postback", "referral"]
    assert events[0]["properties"]["reaction"]["emoji"] == "\U0001f44d"
    assert events[1]["properties"]["postback"]["payload"] == "TRACK_ORDER"


async def test_fields_of_the_wrong_type_are_refused_and_kept_raw(make_bridge: Any, meta: MetaSandbox) -> None:
    running, hook = await _start(make_bridge, meta)
    event = meta.text_event("U1", "hi")
    event["sender"] = {"id": 12345}
    result = await meta.deliver(hook, event)
    assert result.status == 400
    assert "wrong type" in result.body
    assert await running.chats() == []
    async with running.bridge.db.read() as conn:
        statuses = list((await conn.execute(select(s.raw_deliveries.c.status))).scalars())
    assert statuses == ["malformed"]
