"""What managers write: notes vs replies and mentions (I13), macros, buttons and forms (I15)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.messages_helpers import add_manager, close_chat, customer_writes, request, rows
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    return started


async def test_i13_a_note_is_never_delivered_to_the_customer(
    running: RunningBridge, sandbox: SandboxProvider
) -> None:
    chat_id = await customer_writes(running, text="My order is late")
    note = await running.note(chat_id, "Checking with the warehouse first")
    reply = await running.reply(chat_id, "We are on it!")
    await running.wait_for(lambda: sandbox.texts == ["We are on it!"])
    await asyncio.sleep(0.3)  # a few more outbox passes: still only the reply went out
    assert sandbox.texts == ["We are on it!"]
    assert [c["body"]["text"] for c in sandbox.calls] == ["We are on it!"]
    assert [o.message_id for o in await rows(running, s.outbox)] == [reply["id"]]
    by_id = {m["id"]: m for m in await running.messages(chat_id)}
    assert by_id[note["id"]]["kind"] == "note"
    assert by_id[note["id"]]["delivery_status"] is None
    assert by_id[reply["id"]]["kind"] == "reply"


async def test_i13_a_mention_notifies_the_mentioned_manager_and_nobody_else(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    kim, _ = await add_manager(running, "Kim Minji")
    kimura, _ = await add_manager(running, "Kim")
    lee, _ = await add_manager(running, "Lee")
    note = await running.note(chat_id, "@kim minji can you check the refund? cc someone@kim.example")
    notes = await rows(running, s.notifications)
    assert [(n.manager_id, n.kind, n.message_id, n.push) for n in notes] == [
        (kim, "mention", note["id"], True)
    ]
    assert kimura not in {n.manager_id for n in notes}
    assert lee not in {n.manager_id for n in notes}
    (message,) = [m for m in await running.messages(chat_id) if m["id"] == note["id"]]
    assert message["mentions"] == {"managers": [kim], "teams": []}


async def test_i13_a_team_mention_notifies_its_members_but_not_the_author(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    park, park_headers = await add_manager(running, "Park")
    choi, _ = await add_manager(running, "Choi")
    outsider, _ = await add_manager(running, "Jung")
    async with running.bridge.db.write() as conn:
        team_id = (
            await conn.execute(
                s.teams.insert()
                .values(workspace_id=running.bridge.workspace_id, name="VIP care")
                .returning(s.teams.c.id)
            )
        ).scalar_one()
        await conn.execute(
            s.team_members.insert(), [{"team_id": team_id, "manager_id": m} for m in (park, choi)]
        )
    status, _note = await request(
        running,
        "POST",
        f"/api/v1/chats/{chat_id}/messages",
        json={"kind": "note", "text": "Escalating to @vip-care, thanks"},
        headers=park_headers,
    )
    assert status == 201
    notified = {n.manager_id for n in await rows(running, s.notifications)}
    assert notified == {choi}  # Park wrote it; Jung is not in the team
    assert outsider not in notified


async def test_i13_a_note_on_a_closed_chat_notifies_without_push(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    kim, _ = await add_manager(running, "Kim")
    await close_chat(running, chat_id)
    note = await running.note(chat_id, "@Kim for the record: refunded")
    (notification,) = await rows(running, s.notifications)
    assert (notification.manager_id, notification.message_id, notification.push) == (kim, note["id"], False)


async def test_i13_a_new_message_is_announced_in_realtime_after_commit(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    async with running.bridge.events.subscribe(1) as queue:
        note = await running.note(chat_id, "internal")
        event = await asyncio.wait_for(queue.get(), 2)
        while event.kind != "message.created":
            event = await asyncio.wait_for(queue.get(), 2)
    assert event.kind == "message.created"
    # On PostgreSQL it carries the chat's event number: the note is the chat's second change.
    assert event.data.pop("chat_seq", None) == (None if running.bridge.db.is_sqlite else 2)
    assert event.data == {"chat_id": chat_id, "message_id": note["id"], "direction": "note"}


async def test_i15_macros_are_managed_and_expand_with_variables(
    running: RunningBridge, sandbox: SandboxProvider
) -> None:
    chat_id = await customer_writes(running, name="Hong Gildong")
    _, admin = await add_manager(running, "Admin", "admin")
    status, refused = await request(
        running, "POST", "/api/v1/macros", json={"shortcut": "hi", "text": "x"}
    )  # the default test manager has no admin permission
    assert (status, refused) == (
        403,
        {
            "error": "this needs the admin permission",
            "code": "permission",
            "details": {"permission": "admin"},
        },
    )
    status, macro = await request(
        running,
        "POST",
        "/api/v1/macros",
        headers=admin,
        json={
            "shortcut": "#thanks",
            "text": "Thank you {customer.name}! {manager.name} here about chat {chat.id} "
            "({chat.title}). {order.id} stays.",
        },
    )
    assert status == 201
    assert macro["shortcut"] == "thanks"
    status, duplicate = await request(
        running, "POST", "/api/v1/macros", headers=admin, json={"shortcut": "thanks", "text": "again"}
    )
    assert status == 409
    assert "already exists" in duplicate["error"]
    status, _ = await request(
        running, "POST", "/api/v1/macros", headers=admin, json={"shortcut": "bye", "text": "Bye!"}
    )
    status, listed = await request(running, "GET", "/api/v1/macros?q=th")
    assert [m["shortcut"] for m in listed] == ["thanks"]
    # What no shortcut can start with finds none (a NUL was a 500 on PostgreSQL); '%' is no wildcard.
    for odd in ("%00", "%25", "_"):
        assert await request(running, "GET", f"/api/v1/macros?q={odd}") == (200, [])

    async with running.bridge.db.write() as conn:
        await conn.execute(s.chats.update().where(s.chats.c.id == chat_id).values(title="Late parcel"))
    sent = await running.reply(chat_id, "#thanks")
    expected = (
        f"Thank you Hong Gildong! Test Operator here about chat {chat_id} (Late parcel). {{order.id}} stays."
    )
    assert sent["text"] == expected
    await running.wait_for(lambda: sandbox.texts == [expected])
    mixed = await running.reply(chat_id, "Done. #bye #unknown-tag")
    assert mixed["text"] == "Done. Bye! #unknown-tag"

    status, changed = await request(
        running, "PUT", f"/api/v1/macros/{macro['id']}", headers=admin, json={"text": "Thanks!"}
    )
    assert (status, changed["text"]) == (200, "Thanks!")
    status, _ = await request(running, "DELETE", f"/api/v1/macros/{macro['id']}", headers=admin)
    assert status == 204
    assert (await running.note(chat_id, "#thanks"))["text"] == "#thanks"
    status, _ = await request(running, "DELETE", f"/api/v1/macros/{macro['id']}", headers=admin)
    assert status == 404


async def test_i15_link_buttons_and_forms_are_stored_and_listed(running: RunningBridge) -> None:
    chat_id = await customer_writes(running)
    buttons = [
        {"text": "Track parcel", "url": "https://track.example/123", "colour": "green"},
        {"text": "Help", "url": "http://help.example", "colour": "#ff8800"},
    ]
    form = {
        "fields": [
            {"key": "email", "label": "Your email", "type": "email"},
            {"key": "size", "label": "Shoe size", "type": "number", "required": True},
        ]
    }
    status, posted = await request(
        running,
        "POST",
        f"/api/v1/chats/{chat_id}/messages",
        json={"kind": "reply", "text": "Please fill in", "buttons": buttons, "form": form},
    )
    assert status == 201
    (message,) = [m for m in await running.messages(chat_id) if m["id"] == posted["id"]]
    assert message["buttons"] == buttons
    assert message["form"] == {
        "fields": [
            {"key": "email", "label": "Your email", "type": "email", "required": False},
            {"key": "size", "label": "Shoe size", "type": "number", "required": True},
        ]
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"kind": "shout", "text": "x"}, "kind must be 'reply' or 'note'"),
        ({"text": " "}, "text is required"),
        ({"text": "x", "buttons": [{"text": "Go", "url": "javascript:alert(1)"}]}, "http(s) URL"),
        ({"text": "x", "buttons": [{"text": "Go", "url": "ftp://files.example"}]}, "http(s) URL"),
        ({"text": "x", "buttons": [{"text": "b", "url": "https://a.example"}] * 4}, "at most 3 link buttons"),
        ({"text": "x", "buttons": [{"text": "Go", "url": "https://a.example", "colour": "red;x"}]}, "colour"),
        ({"text": "x", "form": {"fields": []}}, "non-empty fields list"),
        (
            {"text": "x", "form": {"fields": [{"key": "a", "label": "A", "type": "date"}]}},
            "type must be one of",
        ),
        (
            {"text": "x", "form": {"fields": [{"key": "a", "label": "A", "type": "text"}] * 2}},
            "is used twice",
        ),
        (
            {"kind": "note", "text": "x", "buttons": [{"text": "Go", "url": "https://a.example"}]},
            "not notes",
        ),
    ],
)
async def test_i15_invalid_buttons_and_forms_are_refused_clearly(
    running: RunningBridge, body: dict[str, object], error: str
) -> None:
    chat_id = await customer_writes(running)
    status, answer = await request(running, "POST", f"/api/v1/chats/{chat_id}/messages", json=body)
    assert status == 400
    assert error in answer["error"]
    assert [m["kind"] for m in await running.messages(chat_id)] == ["customer"]


async def test_messages_page_back_by_keyset(running: RunningBridge) -> None:
    chat_id = await customer_writes(running, text="m0")
    for n in range(1, 5):
        await running.note(chat_id, f"m{n}")
    status, latest = await request(running, "GET", f"/api/v1/chats/{chat_id}/messages?limit=2")
    assert [m["text"] for m in latest] == ["m3", "m4"]
    status, older = await request(
        running, "GET", f"/api/v1/chats/{chat_id}/messages?limit=2&before={latest[0]['id']}"
    )
    assert [m["text"] for m in older] == ["m1", "m2"]
    status, _bad = await request(running, "GET", f"/api/v1/chats/{chat_id}/messages?limit=0")
    assert status == 400


async def test_a_reply_while_another_process_writes_lands_once_and_the_inbox_keeps_answering(
    running: RunningBridge, sandbox: SandboxProvider
) -> None:
    """A manager's reply is written on the event loop (``Database.write_short``). While
    another process holds SQLite's write lock the reply waits for it without freezing the
    server: the chat can be read meanwhile, and the reply is stored and sent once."""
    db = running.bridge.db
    if not db.is_sqlite:
        pytest.skip("SQLite's file lock; PostgreSQL locks rows")
    chat_id = await customer_writes(running, text="Where is my parcel?")
    other = sqlite3.connect(str(db.sqlalchemy_url.database), isolation_level=None, check_same_thread=False)
    try:
        # Off the loop: a background worker may be mid-transaction, and it needs the loop to end it.
        await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
        replying = asyncio.create_task(running.reply(chat_id, "It left the warehouse today"))
        await asyncio.sleep(0.2)
        assert not replying.done(), replying  # waiting for the other process's lock
        # Token and chat looked up, messages read, while the lock is held: a read that waited
        # for it would wait until the COMMIT below, which comes only after this.
        listed = await asyncio.wait_for(running.messages(chat_id), timeout=5)
        assert [m["text"] for m in listed] == ["Where is my parcel?"]
        other.execute("COMMIT")
        reply = await asyncio.wait_for(replying, timeout=10)
    finally:
        other.close()
    await running.wait_for(lambda: sandbox.texts == ["It left the warehouse today"])
    texts = [m["text"] for m in await running.messages(chat_id)]
    assert texts == ["Where is my parcel?", "It left the warehouse today"]
    assert [o.message_id for o in await rows(running, s.outbox)] == [reply["id"]]
