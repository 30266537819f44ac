"""Delivery reports move each text through queued (pending) -> sent -> delivered / failed with
the provider's reason: Twilio's signed status callbacks, and NHN results polled by the plugin."""

from __future__ import annotations

from bridgekit_sms.sandbox import NhnSandbox, TwilioSandbox
from bridgekit_sms.testkit import ABROAD, KOREAN, NAME, StartBridge, message, settled, sms_api, start_chat


async def test_twilio_status_callbacks_mark_delivered_and_failed_with_the_reason(
    start: StartBridge, twilio: TwilioSandbox
) -> None:
    running = await start()
    first = await start_chat(running, ABROAD, "first")
    second = await start_chat(running, "+12025550144", "second")
    assert (await settled(running, first["chat_id"], first["message_id"]))["delivery_status"] == "sent"
    assert (await settled(running, second["chat_id"], second["message_id"]))["delivery_status"] == "sent"
    sid1, sid2 = (m["sid"] for m in twilio.sent)
    assert await twilio.report(sid1, "sent") == 200
    assert await twilio.report(sid1, "delivered") == 200
    assert await twilio.report(sid2, "undelivered", error_code="30005") == 200
    delivered = await message(running, first["chat_id"], first["message_id"])
    failed = await message(running, second["chat_id"], second["message_id"])
    assert delivered["delivery_status"] == "delivered"
    assert failed["delivery_status"] == "failed"
    assert failed["delivery_error"] == "Twilio: undelivered (error 30005: unknown destination handset)"
    _, sends = await sms_api(running, "GET", f"/messages/{second['message_id']}")
    assert sends["sends"][0]["status"] == "failed"


async def test_a_forged_status_callback_changes_nothing(start: StartBridge, twilio: TwilioSandbox) -> None:
    running = await start()
    first = await start_chat(running, ABROAD, "first")
    await settled(running, first["chat_id"], first["message_id"])
    real_token = twilio.auth_token
    twilio.auth_token = "forged"
    try:
        assert await twilio.report(twilio.sent[0]["sid"], "failed", error_code="30003") == 401
    finally:
        twilio.auth_token = real_token
    assert (await message(running, first["chat_id"], first["message_id"]))["delivery_status"] == "sent"


async def test_nhn_results_are_polled_delivered_and_failed_with_the_carriers_reason(
    start: StartBridge, nhn: NhnSandbox
) -> None:
    running = await start()
    ok = await start_chat(running, KOREAN, "도착 안내")
    bad = await start_chat(running, "010-9876-5432", "도착 안내")
    await settled(running, ok["chat_id"], ok["message_id"])
    await settled(running, bad["chat_id"], bad["message_id"])
    first, second = (m["request_id"] for m in nhn.sent)
    nhn.finish(first)
    nhn.finish(second, delivered=False, code="3006", name="착신 거절")

    async def decided() -> bool:
        a = await message(running, ok["chat_id"], ok["message_id"])
        b = await message(running, bad["chat_id"], bad["message_id"])
        return a["delivery_status"] == "delivered" and b["delivery_status"] == "failed"

    await running.wait_for(decided)
    failed = await message(running, bad["chat_id"], bad["message_id"])
    assert failed["delivery_error"] == "NHN Cloud SMS: msgStatus 3, result 3006 착신 거절"
    _, sends = await sms_api(running, "GET", f"/messages/{ok['message_id']}")
    assert sends["sends"][0]["status"] == "delivered"
    assert NAME == "sms"


async def test_nhn_msg_status_6_fails_with_its_meaning_and_7_keeps_the_text_sent(
    start: StartBridge, nhn: NhnSandbox
) -> None:
    """The v3.0 guide's msgStatus 6 is 실패(광고 제한), a failure; 7 is 재발송 대기(광고 제한),
    waiting to be sent again: not final."""
    running = await start()
    blocked = await start_chat(running, KOREAN, "신상품 안내")
    waiting = await start_chat(running, "010-9876-5432", "신상품 안내")
    await settled(running, blocked["chat_id"], blocked["message_id"])
    await settled(running, waiting["chat_id"], waiting["message_id"])
    first, second = (m["request_id"] for m in nhn.sent)
    nhn.set_status(second, "7", "재발송 대기(광고 제한)")
    nhn.set_status(first, "6", "실패(광고 제한)")

    async def failed() -> bool:
        found = await message(running, blocked["chat_id"], blocked["message_id"])
        return bool(found["delivery_status"] == "failed")

    await running.wait_for(failed)
    reason = (await message(running, blocked["chat_id"], blocked["message_id"]))["delivery_error"]
    assert reason == "NHN Cloud SMS: msgStatus 6 실패(광고 제한)"
    # Polled in the same pass as the first: still waiting, still sent.
    assert (await message(running, waiting["chat_id"], waiting["message_id"]))["delivery_status"] == "sent"


async def test_nhn_result_webhooks_mark_delivered_and_failed(start: StartBridge, nhn: NhnSandbox) -> None:
    """With NHN's webhook configured, results arrive without polling (polling is kept as the
    fallback; here it is an hour away)."""
    running = await start(nhn_poll_seconds=3600.0)
    hook = f"{running.url}/hooks/{NAME}"
    ok = await start_chat(running, KOREAN, "도착 안내")
    bad = await start_chat(running, "010-9876-5432", "도착 안내")
    await settled(running, ok["chat_id"], ok["message_id"])
    await settled(running, bad["chat_id"], bad["message_id"])
    first, second = (m["request_id"] for m in nhn.sent)
    nhn.finish(first)
    nhn.finish(second, delivered=False, code="3006")
    forged = await nhn.post_webhook(
        hook, "MESSAGE_RESULT_UPDATE", [nhn.result_hook(first)], signature="guess"
    )
    assert forged == 401
    assert (await message(running, ok["chat_id"], ok["message_id"]))["delivery_status"] == "sent"
    hooks = [nhn.result_hook(first), nhn.result_hook(second)]
    assert await nhn.post_webhook(hook, "MESSAGE_RESULT_UPDATE", hooks) == 200
    assert (await message(running, ok["chat_id"], ok["message_id"]))["delivery_status"] == "delivered"
    failed = await message(running, bad["chat_id"], bad["message_id"])
    assert failed["delivery_status"] == "failed"
    assert failed["delivery_error"] == "NHN Cloud SMS: FAILED, result 3006"


async def test_an_080_opt_out_reported_by_nhn_blocks_later_sends(start: StartBridge, nhn: NhnSandbox) -> None:
    running = await start()
    unsubscribed = {"hookId": "h-1", "recipientNo": "01012345678", "unsubscribeNo": "0801234567"}
    assert await nhn.post_webhook(f"{running.url}/hooks/{NAME}", "UNSUBSCRIBE", [unsubscribed]) == 200
    started = await start_chat(running, KOREAN, "안내")
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert "opted out" in failed["delivery_error"]
    assert nhn.sent == []
