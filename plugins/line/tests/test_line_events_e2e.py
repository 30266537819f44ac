"""LINE events that are not messages, end to end through a running bridgekit on SQLite and
PostgreSQL: signed by the sandbox, posted to the real webhook, read back through the API
(issue 12, items 17 and 10).

``data/line_sdk_webhook.json`` is the official SDK's webhook test fixture (every event type);
see ``data/NOTICE.md``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox
from sqlalchemy import select

import bridgekit
from bridgekit.flow import CustomerEventView
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 32 + b"\xff\xd9"
SDK_FIXTURE = Path(__file__).parent / "data" / "line_sdk_webhook.json"


class ButtonBot:
    """Records the customer events bots are told about."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, dict[str, Any]]] = []

    @bridgekit.hookimpl
    def bridgekit_customer_event(self, event: CustomerEventView) -> None:
        self.seen.append((event.kind, event.chat.id, dict(event.data)))
        if event.kind == "postback":
            event.note(f"pressed {event.data['postback']['data']}")


@pytest.fixture
async def setup(
    make_bridge: Callable[..., Awaitable[RunningBridge]],
) -> AsyncIterator[tuple[RunningBridge, LineSandbox, ButtonBot]]:
    async with LineSandbox() as line:
        plugin, bot = LinePlugin(), ButtonBot()
        running = await make_bridge(
            plugins={"line": plugin, "buttons": bot},
            integrations={
                "acme": {
                    "channel": "line",
                    "settings": line.integration_settings(),
                    "secrets": line.integration_secrets(),
                }
            },
        )
        yield running, line, bot
        await plugin.aclose()


async def _all_messages(running: RunningBridge) -> list[dict[str, Any]]:
    return [m for chat in await running.chats() for m in await running.messages(chat["id"])]


async def _timeline(running: RunningBridge, kind: str, value: str) -> list[dict[str, Any]]:
    """The profile timeline (I17) of the customer owning a contact, oldest first."""
    async with running.bridge.db.read() as conn:
        customer_id = (
            await conn.execute(
                select(s.contacts.c.customer_id).where(s.contacts.c.kind == kind, s.contacts.c.value == value)
            )
        ).scalar_one()
    panel = await running.api("GET", f"/customers/{customer_id}")
    events: list[dict[str, Any]] = list(reversed(panel["events"]))
    return events


async def _raw_statuses(running: RunningBridge) -> list[str]:
    async with running.bridge.db.read() as conn:
        return list(
            (await conn.execute(select(s.raw_deliveries.c.status).order_by(s.raw_deliveries.c.id))).scalars()
        )


async def test_the_sdk_fixture_stores_messages_as_messages_and_events_on_timelines(
    setup: tuple[RunningBridge, LineSandbox, ButtonBot],
) -> None:
    running, line, _bot = setup
    fixture = json.loads(SDK_FIXTURE.read_text())
    events = fixture["events"]
    # The fixture gives every event the same webhookEventId (and message id): as LINE sends
    # them, each is unique.
    for n, event in enumerate(events):
        event["webhookEventId"] = f"01FIXTURE{n:017d}"
        if event["type"] == "message":
            event["message"]["id"] = str(900_000 + n)
    messages_sent = sum(e["type"] == "message" for e in events)

    response = await line.webhooks.post(f"{running.url}/hooks/acme", events)
    assert response.status == 200

    stored = [m for m in await _all_messages(running) if m["kind"] == "customer"]  # not the bot's notes
    assert len(stored) == messages_sent
    assert not [m["text"] for m in stored if "unsupported event" in m["text"]]
    # Chats only where someone wrote: none for the group whose members just joined and left.
    async with running.bridge.db.read() as conn:
        keys = set((await conn.execute(select(s.chat_keys.c.key))).scalars())
    assert "C4af4980629..." not in keys

    user = "U206d25c2ea6bd87c17655609a1c37cb8"
    names = [e["name"] for e in await _timeline(running, "line", user)]
    assert names == [
        "follow", "unfollow", "postback", "beacon", "beacon", "account_link", "postback", "postback",
        "postback", "video_play_complete",
    ]  # fmt: skip
    group = [e["name"] for e in await _timeline(running, "line_group", "C4af4980629...")]
    assert group == ["member_joined", "member_left"]
    assert [
        e["name"] for e in await _timeline(running, "line_group", "Ca56f94637cc4347f90a25382909b24b9")
    ] == [
        "join",
        "leave",
    ]
    # The unknown event type is kept raw only: the delivery was accepted as it came.
    assert await _raw_statuses(running) == ["accepted"]


async def test_unsend_retracts_the_message_text_attachments_and_raw_view(
    setup: tuple[RunningBridge, LineSandbox, ButtonBot],
) -> None:
    running, line, _bot = setup
    user = line.add_user("Mina")
    hook = f"{running.url}/hooks/acme"
    text = line.webhooks.text(user, "my card number is 4111 1111 1111 1111")
    image = line.webhooks.image(user, JPEG)
    kept = line.webhooks.text(user, "sorry, wrong chat")
    assert (await line.webhooks.post(hook, [text, image, kept])).status == 200
    (chat,) = await running.wait_for(running.chats)
    before = await running.messages(chat["id"])
    (attachment,) = before[1]["attachments"]

    unsend = [
        line.webhooks.unsend(user, text["message"]["id"]),
        line.webhooks.unsend(user, image["message"]["id"]),
    ]
    assert (await line.webhooks.post(hook, unsend)).status == 200
    assert (await line.webhooks.post(hook, unsend, redelivery=True)).status == 200

    after = await running.messages(chat["id"])
    assert [(m["text"], m["retracted"], m["attachments"]) for m in after] == [
        ("", True, []),
        ("", True, []),
        ("sorry, wrong chat", False, []),
    ]
    async with running.session.get(f"{running.url}/api/v1/messages/{after[0]['id']}/raw") as resp:
        assert resp.status == 404  # the original text is not served through the source view
    async with running.session.get(f"{running.url}/api/v1/attachments/{attachment['id']}") as resp:
        assert resp.status == 404
    async with running.session.get(f"{running.url}/api/v1/messages/{after[2]['id']}/raw") as resp:
        assert resp.status == 200
    assert len(await running.chats()) == 1  # no message and no chat for the unsend itself


async def test_message_edited_updates_the_message_it_edits(
    setup: tuple[RunningBridge, LineSandbox, ButtonBot],
) -> None:
    running, line, _bot = setup
    user = line.add_user("Mina")
    hook = f"{running.url}/hooks/acme"
    text = line.webhooks.text(user, "see you at 3")
    assert (await line.webhooks.post(hook, [text])).status == 200
    message_id = text["message"]["id"]
    first_edit = line.webhooks.edited(user, message_id, "see you at 4")
    assert (await line.webhooks.post(hook, [first_edit])).status == 200
    second_edit = line.webhooks.edited(user, message_id, "see you at 5")
    second_edit["timestamp"] = first_edit["timestamp"] + 1000
    assert (await line.webhooks.post(hook, [second_edit])).status == 200
    # LINE redelivers the first edit late: the newer text stays.
    assert (await line.webhooks.post(hook, [first_edit], redelivery=True)).status == 200

    (chat,) = await running.chats()
    (message,) = await running.messages(chat["id"])
    assert message["text"] == "see you at 5"
    assert message["edited_at"] is not None
    assert message["retracted"] is False


async def test_postback_is_a_button_press_for_bots_and_the_timeline_never_a_message(
    setup: tuple[RunningBridge, LineSandbox, ButtonBot],
) -> None:
    running, line, bot = setup
    user = line.add_user("Mina")
    stranger = line.add_user("Ken")
    hook = f"{running.url}/hooks/acme"
    assert (await line.webhooks.post(hook, [line.webhooks.text(user, "which colour?")])).status == 200
    press = line.webhooks.postback(user, "action=buy&color=red")
    assert (await line.webhooks.post(hook, [press])).status == 200
    assert (await line.webhooks.post(hook, [press], redelivery=True)).status == 200
    # A press from someone without a chat opens none.
    assert (await line.webhooks.post(hook, [line.webhooks.postback(stranger, "action=menu")])).status == 200

    (chat,) = await running.chats()
    await running.wait_for(lambda: bot.seen)
    assert bot.seen == [("postback", chat["id"], bot.seen[0][2])]
    assert bot.seen[0][2]["postback"] == {"data": "action=buy&color=red"}
    messages = await running.wait_for(
        lambda: _messages_with_note(running, chat["id"])
    )  # the bot's answer to the press
    assert [(m["kind"], m["text"]) for m in messages] == [
        ("customer", "which colour?"),
        ("note", "pressed action=buy&color=red"),
    ]
    timeline = await _timeline(running, "line", user)
    assert [(e["name"], e["properties"]["postback"]) for e in timeline] == [
        ("postback", {"data": "action=buy&color=red"})
    ]
    stranger_timeline = await _timeline(running, "line", stranger)
    assert [e["name"] for e in stranger_timeline] == ["postback"]


async def _messages_with_note(running: RunningBridge, chat_id: int) -> list[dict[str, Any]] | None:
    messages = await running.messages(chat_id)
    return messages if any(m["kind"] == "note" for m in messages) else None


async def test_follow_then_message_is_one_named_customer_with_a_timeline(
    setup: tuple[RunningBridge, LineSandbox, ButtonBot],
) -> None:
    running, line, _bot = setup
    user = line.add_user("Mina Tanaka")
    hook = f"{running.url}/hooks/acme"
    assert (await line.webhooks.post(hook, [line.webhooks.follow(user)])).status == 200
    assert await running.chats() == []  # following opens no chat
    assert (await line.webhooks.post(hook, [line.webhooks.text(user, "hello")])).status == 200

    (chat,) = await running.chats()
    panel = await running.api("GET", f"/customers/{chat['customer_id']}")
    assert panel["customer"]["name"] == "Mina Tanaka"
    assert [e["name"] for e in panel["events"]] == ["follow"]
    assert [m["text"] for m in await running.messages(chat["id"])] == ["hello"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (("source", "userId"), 12345),
        (("message", "text"), {}),
        (("message", "id"), 7),
        (("timestamp",), "now"),
    ],
)
async def test_fields_of_the_wrong_type_are_refused_and_kept_raw(
    setup: tuple[RunningBridge, LineSandbox, ButtonBot], field: tuple[str, ...], value: Any
) -> None:
    running, line, _bot = setup
    event = copy.deepcopy(line.webhooks.text(line.add_user("Mina"), "hi"))
    target = event
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value

    response = await line.webhooks.post(f"{running.url}/hooks/acme", [event])
    assert response.status == 400
    assert "wrong type" in response.text
    assert await running.chats() == []
    assert await _raw_statuses(running) == ["malformed"]


async def test_unknown_event_types_are_acknowledged_and_kept_raw_only(
    setup: tuple[RunningBridge, LineSandbox, ButtonBot],
) -> None:
    running, line, _bot = setup
    user = line.add_user("Mina")
    unknown = line.webhooks.event("hologramReceived", user, hologram={"id": 1})
    assert (await line.webhooks.post(f"{running.url}/hooks/acme", [unknown])).status == 200
    assert await running.chats() == []
    assert await _raw_statuses(running) == ["accepted"]
