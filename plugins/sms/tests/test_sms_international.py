"""International numbers through the Twilio sandbox over HTTP: GSM-7 and UCS-2 segments
computed before sending and billed per segment, E.164 numbers, unparseable numbers refused."""

from __future__ import annotations

from typing import Any

from bridgekit.testing.harness import RunningBridge

from bridgekit_sms import rules
from bridgekit_sms.sandbox import TwilioSandbox
from bridgekit_sms.testkit import ABROAD, StartBridge, settled, sms_api, start_chat


async def _billed(running: RunningBridge, chat_id: int) -> dict[int, tuple[int, str]]:
    chat = await running.api("GET", f"/chats/{chat_id}")
    customer: dict[str, Any] = await running.api("GET", f"/customers/{chat['customer_id']}")
    return {s["message_id"]: (s["amount_pu"], s["category"]) for s in customer["sent_messages"]}


async def test_161_gsm7_characters_bill_two_segments_and_an_emoji_switches_to_ucs2(
    start: StartBridge, twilio: TwilioSandbox
) -> None:
    running = await start(international_segment_price_pu=60)
    text = "a" * 161
    started = await start_chat(running, ABROAD, text)
    assert (await settled(running, started["chat_id"], started["message_id"]))["delivery_status"] == "sent"
    assert twilio.sent[0]["To"] == ABROAD
    assert twilio.sent[0]["From"] == "+14155550100"
    assert twilio.sent[0]["Body"] == text
    assert await _billed(running, started["chat_id"]) == {started["message_id"]: (120, "sms_international")}
    status, sends = await sms_api(running, "GET", f"/messages/{started['message_id']}")
    assert status == 200
    assert [(s["encoding"], s["segments"]) for s in sends["sends"]] == [("GSM-7", 2)]

    emoji = await start_chat(running, "+1 (202) 555-0144", "Your parcel is here 📦")
    await settled(running, emoji["chat_id"], emoji["message_id"])
    status, sends = await sms_api(running, "GET", f"/messages/{emoji['message_id']}")
    assert [(s["encoding"], s["segments"]) for s in sends["sends"]] == [("UCS-2", 1)]
    assert twilio.sent[1]["To"] == "+12025550144"  # normalised to E.164


def test_segment_rules() -> None:
    assert rules.segments("a" * 160) == rules.Segments("GSM-7", 1, 160)
    assert rules.segments("a" * 161).count == 2
    assert rules.segments("a" * 306).count == 2
    assert rules.segments("a" * 307).count == 3
    assert rules.segments("€" * 80) == rules.Segments("GSM-7", 1, 160)  # extension: 2 each
    assert rules.segments("€" * 81).count == 2
    # 306 septets would fit two segments of 153, but an escape pair is never split across two
    assert rules.segments("a" * 152 + "€" + "a" * 152) == rules.Segments("GSM-7", 3, 306)
    assert rules.segments("a" * 69 + "😀").encoding == "UCS-2"
    assert rules.segments("a" * 68 + "😀") == rules.Segments("UCS-2", 1, 70)
    assert rules.segments("a" * 69 + "😀").count == 2
    assert rules.segments("é" * 70) == rules.Segments("GSM-7", 1, 70)  # é is GSM-7
    assert rules.segments("가" * 70) == rules.Segments("UCS-2", 1, 70)
    assert rules.segments("가" * 71).count == 2


async def test_a_number_that_does_not_parse_is_refused_with_a_clear_error(
    start: StartBridge, twilio: TwilioSandbox
) -> None:
    running = await start()
    started = await start_chat(running, "+1 555", "hello")
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert failed["delivery_status"] == "failed"
    assert "'+1 555' is not a" in failed["delivery_error"]
    assert twilio.sent == []


async def test_a_failed_send_is_free(start: StartBridge, twilio: TwilioSandbox) -> None:
    running = await start()
    twilio.fail_next(400)
    started = await start_chat(running, ABROAD, "hello")
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert failed["delivery_status"] == "failed"
    assert "Twilio API answered HTTP 400" in failed["delivery_error"]
    assert await _billed(running, started["chat_id"]) == {}
