"""End to end over real HTTP and a real database: ingest -> store -> bots -> outbox -> deliver
-> bill (issue 2; SPEC P1, P2)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import StartTestchat, customer_writes, integration, signed
from tests.support.bots import CrashingBot, EchoBot, Gatekeeper, GreeterBot
from tests.support.sandbox import SandboxProvider
from tests.support.testchannel import TestChannelPlugin


async def count(running: RunningBridge, table: Any) -> int:
    async with running.bridge.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_customer_message_reaches_bot_reply_is_delivered_and_billed(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    bot = EchoBot()
    running = await make_bridge(
        plugins={"testchat": channel_plugin, "echo": bot}, integrations={"acme": integration(sandbox_url)}
    )
    body, headers = signed({"id": "ev-1", "user": "u-1", "name": "Kim Minji", "text": "hello"})
    status, _ = await running.post_hook("acme", body, headers)
    assert status == 200

    chats = await running.chats()
    assert len(chats) == 1
    assert chats[0]["integration"] == "acme"
    assert chats[0]["state"] == "open"
    await running.wait_for(lambda: sandbox.texts == ["echo: hello"])
    assert [b["author"] for b in sandbox.accepted.values()] == ["bot"]  # plugins can tell bots apart

    messages = await running.wait_for(
        lambda: _when(
            running.messages(chats[0]["id"]), lambda ms: len(ms) == 2 and ms[1]["delivery_status"] == "sent"
        )
    )
    inbound, reply = messages
    assert inbound["text"] == "hello"
    assert inbound["author_name"] == "Kim Minji"
    assert reply["author_kind"] == "bot"
    assert reply["provider_message_id"] == "msg-1"
    async with running.bridge.db.read() as conn:
        ledger = (await conn.execute(select(s.ledger.c.amount_pu, s.ledger.c.category))).all()
        tags = (await conn.execute(select(s.chat_tags.c.tag))).scalars().all()
    assert [tuple(r) for r in ledger] == [(7, "test")]
    assert tags == ["echoed"]
    await running.wait_for(lambda: bot.sent == [reply["id"]])
    assert (None, "open") in bot.states


async def _when(coro: Any, check: Any) -> Any:
    value = await coro
    return value if check(value) else None


async def test_manager_reply_is_delivered_once_and_note_never(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    chat_id = await customer_writes(running, "hi")

    note = await running.note(chat_id, "internal: VIP customer")
    reply = await running.reply(chat_id, "Hello, how can we help?")
    assert note["delivery_status"] is None
    assert reply["delivery_status"] == "pending"
    await running.wait_for(lambda: sandbox.texts == ["Hello, how can we help?"])
    await asyncio.sleep(0.3)
    assert [c["body"]["text"] for c in sandbox.calls] == ["Hello, how can we help?"]
    assert sandbox.calls[0]["body"]["to"] == "u-1"
    assert sandbox.calls[0]["body"]["author"] == "manager"


async def test_redelivering_the_same_event_ten_times_stores_one_message(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-dup", "user": "u-1", "text": "once"})
    results = [await running.post_hook("acme", body, headers) for _ in range(5)]
    results += await asyncio.gather(*(running.post_hook("acme", body, headers) for _ in range(5)))
    assert [status for status, _ in results] == [200] * 10
    assert await count(running, s.messages) == 1
    assert await count(running, s.chats) == 1


async def test_bad_signature_is_refused_and_nothing_is_stored(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "forged"}, secret="wrong")
    status, _ = await running.post_hook("acme", body, headers)
    assert status == 401
    status, _ = await running.post_hook("acme", body, {})
    assert status == 401
    for table in (s.messages, s.raw_deliveries, s.chats, s.customers):
        assert await count(running, table) == 0
    async with running.session.get(f"{running.url}/metrics") as resp:
        text = await resp.text()
    assert 'bridgekit_ingest_total{integration="acme",outcome="bad_signature"} 2' in text


async def test_unknown_integration_is_404(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "x"})
    status, _ = await running.post_hook("nobody", body, headers)
    assert status == 404


async def test_malformed_delivery_is_kept_raw_with_a_clear_error(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    from tests.support.sandbox import SIGNATURE_HEADER, sign

    body = b'{"not-events": []}'
    status, text = await running.post_hook("acme", body, {SIGNATURE_HEADER: sign("s3cret", body)})
    assert status == 400
    assert "not a test-channel webhook" in text
    async with running.bridge.db.read() as conn:
        raw = (await conn.execute(select(s.raw_deliveries.c.status, s.raw_deliveries.c.body))).all()
    assert [(r.status, r.body) for r in raw] == [("malformed", body)]


async def test_a_plugin_that_raises_leaves_the_server_serving_and_keeps_the_delivery(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    running = await make_bridge(
        plugins={"testchat": channel_plugin, "crash": CrashingBot(), "echo": EchoBot()},
        integrations={"acme": integration(sandbox_url)},
    )
    body, headers = signed({"id": "ev-boom", "user": "u-1", "boom": True})
    status, _ = await running.post_hook("acme", body, headers)
    assert status == 500  # the provider redelivers later
    async with running.bridge.db.read() as conn:
        kept = (await conn.execute(select(s.raw_deliveries.c.status, s.raw_deliveries.c.error))).all()
    assert len(kept) == 1
    assert kept[0].status == "error"
    assert "plugin bug" in kept[0].error

    # The server still serves, and a crashing bot does not stop the other bot.
    body, headers = signed({"id": "ev-2", "user": "u-1", "text": "still there?"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    await running.wait_for(lambda: sandbox.texts == ["echo: still there?"])
    async with running.session.get(f"{running.url}/metrics") as resp:
        metrics = await resp.text()
    assert 'bridgekit_plugin_errors_total{hook="bridgekit_ingest",plugin="testchat"} 1' in metrics
    assert 'bridgekit_plugin_errors_total{hook="bridgekit_message_received",plugin="crash"} 1' in metrics


async def test_transient_failures_are_retried_and_the_message_is_sent_once(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    chat_id = await customer_writes(running, "hi")
    sandbox.fail_next(503, count=2)
    await running.reply(chat_id, "retry me")
    await running.wait_for(lambda: sandbox.texts == ["retry me"])
    keys = [c["key"] for c in sandbox.calls]
    assert len(keys) == 3
    assert len(set(keys)) == 1  # same idempotency key on every attempt

    async def sent_job() -> Any:
        async with running.bridge.db.read() as conn:
            job = (await conn.execute(select(s.outbox.c.state, s.outbox.c.attempts))).one()
        return job if job.state == "sent" else None

    job = await running.wait_for(sent_job)  # the sandbox answers before the worker commits
    assert await count(running, s.ledger) == 1
    assert (job.state, job.attempts) == ("sent", 3)


async def test_a_permanent_failure_is_marked_failed_with_the_reason_and_not_billed(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    chat_id = await customer_writes(running, "hi", user="blocked-user")
    sent = await running.reply(chat_id, "you will not get this")
    failed = await running.wait_for(
        lambda: _when(running.messages(chat_id), lambda ms: ms[-1]["delivery_status"] == "failed")
    )
    assert failed[-1]["id"] == sent["id"]
    assert failed[-1]["delivery_error"] == "recipient blocked the account"
    assert len(sandbox.calls) == 1
    assert await count(running, s.ledger) == 0


async def test_a_read_report_marks_the_managers_message_read(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    """I19: a channel that reports reads turns "sent" into "read"."""
    running = await start_testchat()
    chat_id = await customer_writes(running, "hi")
    await running.reply(chat_id, "answer")
    await running.wait_for(
        lambda: _when(running.messages(chat_id), lambda ms: ms[-1]["delivery_status"] == "sent")
    )
    body, headers = signed({"read": "msg-1"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    messages = await running.messages(chat_id)
    assert messages[-1]["delivery_status"] == "read"


async def test_bots_stop_processing_and_skip_automated_messages(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    echo = EchoBot()
    running = await make_bridge(
        plugins={"testchat": channel_plugin, "echo": echo, "gate": Gatekeeper()},
        integrations={"acme": integration(sandbox_url)},
    )
    for n, (text, auto) in enumerate(
        [("stop right there", False), ("I am away (auto-reply)", True), ("go", False)]
    ):
        body, headers = signed({"id": f"ev-{n}", "user": "u-1", "text": text, "auto": auto})
        assert (await running.post_hook("acme", body, headers))[0] == 200
    await running.wait_for(lambda: sandbox.texts == ["echo: go"])
    assert echo.seen == ["go"]  # stopped by the gatekeeper; never shown the auto-reply
    chat_id = (await running.chats())[0]["id"]
    notes = [m["text"] for m in await running.messages(chat_id) if m["direction"] == "note"]
    assert notes == ["stopped by gatekeeper"]


async def test_a_chat_opened_by_an_automated_message_gets_no_bot_reply(
    make_bridge, sandbox: SandboxProvider, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """Bots still see the chat open (and may tag it) but their replies to a machine are dropped."""
    running = await make_bridge(
        plugins={"testchat": channel_plugin, "greeter": GreeterBot(), "echo": EchoBot()},
        integrations={"acme": integration(sandbox_url)},
    )
    body, headers = signed({"id": "ev-auto", "user": "noreply", "text": "Out of office", "auto": True})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    body, headers = signed({"id": "ev-person", "user": "u-1", "text": "hello"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    await running.wait_for(lambda: sorted(sandbox.texts) == ["Thanks, we will answer soon.", "echo: hello"])
    assert len(await running.chats()) == 2  # the automated message is visible to managers

    async def tagged() -> list[str] | None:
        async with running.bridge.db.read() as conn:
            found = (await conn.execute(select(s.chat_tags.c.tag))).scalars().all()
        return list(found) if len(found) == 3 else None

    assert sorted(await running.wait_for(tagged)) == ["echoed", "greeted", "greeted"]
    # A manager closes both chats later: the goodbye goes to the person only.
    for chat in await running.chats():
        await running.api("POST", f"/chats/{chat['id']}/close")
    await running.wait_for(lambda: "Goodbye." in sandbox.texts)
    await asyncio.sleep(0.3)
    assert sorted(sandbox.texts) == ["Goodbye.", "Thanks, we will answer soon.", "echo: hello"]
    assert [b["to"] for b in sandbox.accepted.values()] == ["u-1", "u-1", "u-1"]


async def test_concurrent_deliveries_share_group_commits(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    posts = []
    for n in range(60):
        body, headers = signed(
            {"id": f"ev-{n}", "user": f"u-{n % 7}", "name": f"User {n % 7}", "text": f"m{n}"}
        )
        posts.append(running.post_hook("acme", body, headers))
    results = await asyncio.gather(*posts)
    assert all(status == 200 for status, _ in results)
    assert await count(running, s.messages) == 60
    assert await count(running, s.customers) == 7  # one customer per sender, even inside one batch
    assert await count(running, s.chats) == 7
    assert running.bridge.metrics.value("bridgekit_ingest_commits_total") < 60


async def test_closed_chat_reopens_or_opens_a_new_chat_by_channel_policy(
    make_bridge, sandbox_url: str
) -> None:
    reopen = TestChannelPlugin("reopening", closed_chat_policy="reopen")
    fresh = TestChannelPlugin("fresh", closed_chat_policy="new_chat")
    running = await make_bridge(
        plugins={"reopening": reopen, "fresh": fresh},
        integrations={"r": integration(sandbox_url, "reopening"), "f": integration(sandbox_url, "fresh")},
    )
    for name in ("r", "f"):
        body, headers = signed({"id": "1", "user": "u-1", "text": "first"})
        await running.post_hook(name, body, headers)
    async with running.bridge.db.write() as conn:
        await conn.execute(s.chats.update().values(state="closed"))
    for name in ("r", "f"):
        body, headers = signed({"id": "2", "user": "u-1", "text": "again"})
        await running.post_hook(name, body, headers)
    by_integration: dict[str, list[str]] = {}
    for chat in await running.chats():
        by_integration.setdefault(chat["integration"], []).append(chat["state"])
    assert sorted(by_integration["r"]) == ["open"]
    assert sorted(by_integration["f"]) == ["closed", "open"]


async def test_a_verified_handle_joins_the_existing_customer_across_integrations(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """E7 in general form: a provider-verified shared handle links to one customer."""
    emails = {"u-a": "minji@example.com", "u-b": "minji@example.com"}
    running = await make_bridge(
        plugins={"testchat": channel_plugin},
        integrations={
            "one": integration(sandbox_url, emails=emails),
            "two": integration(sandbox_url, emails=emails),
        },
    )
    body, headers = signed({"id": "1", "user": "u-a", "text": "from one"})
    await running.post_hook("one", body, headers)
    body, headers = signed({"id": "1", "user": "u-b", "text": "from two"})
    await running.post_hook("two", body, headers)
    chats = await running.chats()
    assert len(chats) == 2
    assert chats[0]["customer_id"] == chats[1]["customer_id"]
    assert await count(running, s.customers) == 1


async def test_attachments_are_stored_on_disk_and_listed_with_the_message(
    start_testchat: StartTestchat,
) -> None:
    import base64
    import hashlib

    running = await start_testchat()
    photo = bytes(range(256)) * 40
    files = [{"name": "receipt.png", "type": "image/png", "data": base64.b64encode(photo).decode()}]
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "see attached", "files": files})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    chat_id = (await running.chats())[0]["id"]
    (message,) = await running.messages(chat_id)
    (attachment,) = message["attachments"]
    assert {k: attachment[k] for k in ("filename", "content_type", "size")} == {
        "filename": "receipt.png",
        "content_type": "image/png",
        "size": 10240,
    }
    async with running.bridge.db.read() as conn:
        path = (await conn.execute(select(s.attachments.c.storage_path))).scalar_one()
    stored = await asyncio.to_thread(Path(path).read_bytes)
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(photo).hexdigest()


async def test_a_get_handshake_is_answered_by_the_plugin_and_stores_nothing(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    async with running.session.get(f"{running.url}/hooks/acme?verify=s3cret&challenge=12345") as resp:
        assert resp.status == 200
        assert await resp.text() == "12345"
    async with running.session.get(f"{running.url}/hooks/acme?verify=nope&challenge=12345") as resp:
        assert resp.status == 401
    assert await count(running, s.raw_deliveries) == 0


async def test_a_plugin_may_hand_over_timezone_aware_times(
    start_testchat: StartTestchat,
) -> None:
    """PostgreSQL refuses to mix aware and naive timestamps; the core normalises to UTC."""
    from datetime import UTC, datetime, timedelta, timezone

    from bridgekit.model import RawDelivery

    running = await start_testchat()
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "from SMTP"})
    kst = timezone(timedelta(hours=9))
    received = datetime(2026, 11, 23, 18, 0, tzinfo=kst)
    outcome = await running.bridge.submit(
        RawDelivery(
            "acme", "POST", "/smtp", {k.lower(): v for k, v in headers.items()}, {}, body, None, received
        )
    )
    assert outcome.status == "accepted"
    async with running.bridge.db.read() as conn:
        stored = (await conn.execute(select(s.raw_deliveries.c.received_at))).scalar_one()
    assert stored == received.astimezone(UTC).replace(tzinfo=None)


async def test_no_bot_queue_rows_are_written_when_no_plugin_listens(
    start_testchat: StartTestchat,
) -> None:
    """One rule for every writer of the bot queue (bridgekit.queues.flow_events): no event is
    queued that no plugin would receive (no bots loaded), neither by the ingest hot path nor
    by a manager closing, reopening or snoozing the chat."""
    running = await start_testchat()
    assert running.bridge.hooks.listened_flow_kinds() == frozenset()
    assert running.bridge.flow is not None
    await running.bridge.flow.stop()  # it would delete unwanted rows before we count them
    body, headers = signed({"id": "ev-1", "user": "u-1", "text": "hi"})
    await running.post_hook("acme", body, headers)
    assert await count(running, s.flow_events) == 0
    (chat,) = await running.chats()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    await running.api("POST", f"/chats/{chat['id']}/close")
    await running.api("POST", f"/chats/{chat['id']}/reopen")
    await running.api("POST", f"/chats/{chat['id']}/snooze", json={"until": tomorrow})
    assert [c["state"] for c in await running.chats(state="snoozed")] == ["snoozed"]
    assert await count(running, s.flow_events) == 0
