"""K6: an Alimtalk Kakao cannot deliver falls back to one SMS/LMS through the SMS plugin, sent
once however often the send is retried, and billed as the text it is (the Alimtalk is free)."""

from __future__ import annotations

from bridgekit.storage import schema as s
from bridgekit_sms.sandbox import NhnSandbox
from sqlalchemy import select

from bridgekit_kakao.plugin import fallback_key
from bridgekit_kakao.sandbox import CANNOT_DELIVER, AlimtalkSandbox
from bridgekit_kakao.testkit import (
    AS_SENT,
    SHIPPED,
    MakeCustomer,
    StartBridge,
    sent_alimtalk,
    sent_messages,
    settled,
)

PARAMETERS = {"name": "홍길동", "invoice": "6079-1234-5678"}


async def test_a_failed_alimtalk_falls_back_to_exactly_one_text_even_when_retried(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox, make_customer: MakeCustomer
) -> None:
    kakao.fail_recipient(AS_SENT)  # e.g. the customer blocked the channel: Kakao's 3018
    sms.fail_next(503)  # and the first try of the text finds NHN SMS down: the send is retried
    running = await start()
    started = await sent_alimtalk(running, await make_customer(running), SHIPPED, **PARAMETERS)
    message = await settled(running, started)
    assert message["delivery_status"] == "sent", message
    assert len(kakao.sent) == 1  # the retry did not send the Alimtalk again
    assert sms.texts == [started["text"]]  # one text, the same words
    assert sms.sent[0]["recipientList"][0]["recipientNo"] == AS_SENT
    # Whatever retries the send again (a restart, a manual retry) asks with the key derived
    # from the Alimtalk's own: no second text.
    async with running.bridge.db.read() as conn:
        key, attempts = (
            await conn.execute(
                select(s.outbox.c.idempotency_key, s.outbox.c.attempts).where(
                    s.outbox.c.message_id == started["message_id"]
                )
            )
        ).one()
    assert attempts == 2  # the text's first try met the 503
    notes = [m["text"] for m in await running.messages(started["chat_id"]) if m["direction"] == "note"]
    assert notes == [
        f"Kakao did not deliver the Alimtalk: Message cannot be delivered ({CANNOT_DELIVER}). "
        "The same words went to the customer's phone as a text instead."
    ]
    await running.bridge.send_text(AS_SENT, started["text"], idempotency_key=fallback_key(key))
    assert len(sms.sent) == 1
    listed = await sent_messages(running, started["chat_id"])
    assert [(m["amount_pu"], m["category"]) for m in listed] == [(20, "sms")]  # billed as the SMS, not 7


async def test_the_fallback_text_is_sent_once_per_alimtalk_key(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox
) -> None:
    running = await start()
    first = await running.bridge.send_text(
        AS_SENT, "주문하신 상품이 발송되었습니다.", idempotency_key=fallback_key("outbox-7")
    )
    again = await running.bridge.send_text(
        AS_SENT, "주문하신 상품이 발송되었습니다.", idempotency_key=fallback_key("outbox-7")
    )
    assert again.provider_message_id == first.provider_message_id
    assert len(sms.sent) == 1


async def test_without_the_fallback_a_failed_alimtalk_fails_and_costs_nothing(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox, make_customer: MakeCustomer
) -> None:
    kakao.fail_recipient(AS_SENT)
    running = await start(sms_fallback=False)
    started = await sent_alimtalk(running, await make_customer(running), SHIPPED, **PARAMETERS)
    failed = await settled(running, started)
    assert failed["delivery_status"] == "failed"
    assert (
        f"Kakao did not deliver the Alimtalk: Message cannot be delivered ({CANNOT_DELIVER})"
        in (failed["delivery_error"])
    )
    assert sms.sent == []
    assert await sent_messages(running, started["chat_id"]) == []
