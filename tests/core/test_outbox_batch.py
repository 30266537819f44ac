"""The outbox works in batches (issue 15): a claim leases several jobs and reads what their
messages are built from in the same transaction, jobs claimed ahead wait in memory, and
finished sends are recorded together. These tests pin that the batch changes nothing a
delivery sees and loses or repeats nothing."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from sqlalchemy import select

from bridgekit.model import OutboundMessage
from bridgekit.queues.outbox import OutboxWorker
from bridgekit.storage import schema as s
from bridgekit.storage import sql as sql_module
from bridgekit.storage.hotsql import LAST_INBOUND_IDS_SQL, driver_sql, placeholders
from bridgekit.testing.harness import RunningBridge
from tests.conftest import StartTestchat, signed
from tests.support.sandbox import SandboxProvider


def _seen(message: OutboundMessage) -> dict[str, Any]:
    """What a plugin sees of a message, but the progress callback (a fresh closure each time)
    and the expiry and signature of its attachments' URLs (signed when built: two builds may
    fall in two different seconds)."""
    seen = {f.name: getattr(message, f.name) for f in fields(message) if f.name != "save_progress"}
    seen["attachments"] = [replace(a, url=_unsigned(a.url)) for a in message.attachments]
    return seen


def _unsigned(url: str | None) -> str | None:
    """``.../media/{id}/{expires}/{signature}/{name}`` without its expiry and signature."""
    if url is None:
        return None
    head, _expires, _signature, name = url.rsplit("/", 3)
    return f"{head}/{name}"


async def _stopped_outbox(running: RunningBridge) -> OutboxWorker:
    outbox = running.bridge.outbox
    assert outbox is not None
    await outbox.stop()
    return outbox


async def _chat(running: RunningBridge, user: str, text: str) -> int:
    body, headers = signed({"id": f"ev-{user}-{text}", "user": user, "text": text})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    (chat,) = [c for c in await running.chats() if c["id"] not in _known]
    _known.add(chat["id"])
    return int(chat["id"])


_known: set[int] = set()


async def test_a_claimed_batch_builds_the_messages_one_at_a_time_would(
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    outbox = await _stopped_outbox(running)
    _known.clear()
    first = await _chat(running, "u-1", "hello?")
    await running.reply(first, "the first answer")
    await running.reply(first, "a second answer", files=[("note.txt", "text/plain", b"hi")])
    second = await _chat(running, "u-2", "anyone?")
    await running.reply(second, "yes")

    jobs, read = await outbox._claim(10)
    assert len(jobs) == 3
    assert read is not None
    batch = outbox._build_batch(jobs, read)
    assert set(batch) == {job.id for job in jobs}
    for job in jobs:
        assert _seen(batch[job.id]) == _seen(await outbox._outbound(job))
    by_text = {message.text: message for message in batch.values()}
    assert by_text["the first answer"].first_answer
    assert by_text["yes"].first_answer
    assert not by_text["a second answer"].first_answer  # the first one answered the customer
    assert [a.filename for a in by_text["a second answer"].attachments] == ["note.txt"]
    assert by_text["yes"].recipient.value != by_text["the first answer"].recipient.value


async def test_jobs_claimed_ahead_are_given_back_on_stop_and_sent_once(
    sandbox: SandboxProvider,
    start_testchat: StartTestchat,
) -> None:
    running = await start_testchat()
    outbox = await _stopped_outbox(running)
    _known.clear()
    chat_id = await _chat(running, "u-1", "hello?")
    for i in range(3):
        await running.reply(chat_id, f"answer {i}")
    jobs, read = await outbox._claim(10)
    assert len(jobs) == 3
    assert read is not None
    outbox._ready.extend((job, None) for job in jobs)
    await outbox.stop()  # nothing was started: all three are due again, the attempt not counted

    async with running.bridge.db.read() as conn:
        rows = (
            await conn.execute(select(s.outbox.c.state, s.outbox.c.attempts, s.outbox.c.lease_owner))
        ).all()
    assert sorted(tuple(r) for r in rows) == [("pending", 0, None)] * 3

    outbox.start()

    async def all_sent() -> bool:
        return [
            m["delivery_status"] for m in await running.messages(chat_id) if m["direction"] == "outbound"
        ] == ["sent"] * 3

    await running.wait_for(all_sent)
    assert sorted(sandbox.texts) == ["answer 0", "answer 1", "answer 2"]
    async with running.bridge.db.read() as conn:
        attempts = (await conn.execute(select(s.outbox.c.attempts))).scalars().all()
    assert attempts == [1, 1, 1]


async def test_the_outboxs_plain_sql_finds_each_chats_latest_customer_message_as_the_inbox_does(
    start_testchat: StartTestchat,
) -> None:
    """The claim reads each chat's latest customer message in plain SQL
    (``hotsql.LAST_INBOUND_IDS_SQL``); the inbox reads it through Core
    (``sql.last_inbound_ids``). Both must find the same message, or a reply would quote (and
    answer) another message than the inbox shows it answering."""
    running = await start_testchat()
    await _stopped_outbox(running)
    _known.clear()
    talked = await _chat(running, "u-1", "first question")
    await running.reply(talked, "an answer")
    body, headers = signed({"id": "ev-u-1-again", "user": "u-1", "text": "second question"})
    assert (await running.post_hook("acme", body, headers))[0] == 200
    await running.reply(talked, "another answer")
    quiet = await _chat(running, "u-2", "only a question")
    started = await running.api(
        "POST", "/chats", json={"integration": "acme", "text": "we write first", "customer_id": 1}
    )
    chat_ids = [talked, quiet, int(started["chat_id"])]

    async with running.bridge.db.read() as conn:
        core = sql_module.last_inbound_ids(chat_ids)
        by_core = {r.chat_id: r.id for r in await conn.execute(select(core.c.chat_id, core.c.id))}
        text = LAST_INBOUND_IDS_SQL.format(chat_ids=placeholders(len(chat_ids)))
        plain = await conn.exec_driver_sql(driver_sql(conn.dialect.name, text), tuple(chat_ids))
        by_plain = {r.chat_id: r.id for r in plain}
        newest_questions = {
            chat: max(
                r.id
                for r in await conn.execute(
                    select(s.messages.c.id).where(
                        s.messages.c.chat_id == chat, s.messages.c.direction == "inbound"
                    )
                )
            )
            for chat in (talked, quiet)
        }
    assert by_plain == by_core == newest_questions  # the chat that only sent has none
