"""Korean numbers through the NHN Cloud sandbox over HTTP: SMS or LMS by EUC-KR/CP949 bytes,
never cut, characters outside CP949 refused, registered senders only, advertising rules."""

from __future__ import annotations

from datetime import UTC, datetime

from bridgekit.inbox.managers import create_manager

from bridgekit_sms.plugin import SmsPlugin
from bridgekit_sms.sandbox import NhnSandbox, TwilioSandbox
from bridgekit_sms.testkit import KOREAN, StartBridge, settled, sms_api, start_chat

HANGUL_45 = "가" * 45  # 90 bytes of CP949


async def test_90_bytes_go_as_sms_and_91_as_lms(start: StartBridge, nhn: NhnSandbox) -> None:
    running = await start()
    first = await start_chat(running, KOREAN, HANGUL_45)
    assert (await settled(running, first["chat_id"], first["message_id"]))["delivery_status"] == "sent"
    second = await start_chat(running, KOREAN, HANGUL_45 + "a")
    assert (await settled(running, second["chat_id"], second["message_id"]))["delivery_status"] == "sent"
    assert [m["kind"] for m in nhn.sent] == ["sms", "mms"]  # NHN sends LMS through /mms
    assert nhn.sent[0]["recipientList"][0]["recipientNo"] == "01012345678"
    assert nhn.sent[0]["sendNo"] == "15881234"
    assert nhn.texts == [HANGUL_45, HANGUL_45 + "a"]


async def test_an_lms_carries_the_chat_subject(start: StartBridge, nhn: NhnSandbox) -> None:
    running = await start()
    started = await start_chat(running, KOREAN, "배송 안내드립니다.", title="주문 1042")
    await settled(running, started["chat_id"], started["message_id"])
    assert nhn.sent[0]["kind"] == "mms"
    assert nhn.sent[0]["title"] == "주문 1042"


async def test_2001_bytes_are_refused_and_nothing_is_sent(start: StartBridge, nhn: NhnSandbox) -> None:
    running = await start()
    status, body = await _start_raw(running, "a" * 2001)
    assert status == 422, body
    assert "2000" in body
    assert await running.chats() == []
    assert nhn.sent == []


async def test_2000_bytes_go_as_one_lms_uncut(start: StartBridge, nhn: NhnSandbox) -> None:
    running = await start()
    started = await start_chat(running, KOREAN, "가" * 1000)
    assert (await settled(running, started["chat_id"], started["message_id"]))["delivery_status"] == "sent"
    assert nhn.texts == ["가" * 1000]


async def test_a_character_outside_cp949_is_refused_with_a_clear_reason(
    start: StartBridge, nhn: NhnSandbox
) -> None:
    running = await start()
    started = await start_chat(running, KOREAN, "주문이 출발했어요 😀")
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert failed["delivery_status"] == "failed"
    assert "'😀' (U+1F600)" in failed["delivery_error"]
    assert "CP949" in failed["delivery_error"]
    assert nhn.sent == []


async def test_an_unregistered_sender_number_is_refused_before_the_provider(
    start: StartBridge, nhn: NhnSandbox
) -> None:
    running = await start(sender_number="02-123-4567")
    started = await start_chat(running, KOREAN, "안녕하세요")
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert failed["delivery_status"] == "failed"
    assert "not registered" in failed["delivery_error"]
    assert nhn.sent == []


async def test_a_workspace_without_its_own_number_uses_the_shared_one(
    start: StartBridge, nhn: NhnSandbox
) -> None:
    nhn.registered.add("16001234")
    running = await start(
        sender_number="", shared_sender_number="1600-1234", registered_senders=["1588-1234", "1600-1234"]
    )
    started = await start_chat(running, KOREAN, "안녕하세요")
    assert (await settled(running, started["chat_id"], started["message_id"]))["delivery_status"] == "sent"
    assert nhn.sent[0]["sendNo"] == "16001234"


AD = "(광고) 12월 할인 안내: 전 품목 20%"
AD_SETTINGS = {"ad_sender_name": "브릿지상점", "ad_opt_out_number": "080-123-4567"}


async def test_an_ad_carries_the_sender_name_and_a_free_opt_out_number(
    start: StartBridge, nhn: NhnSandbox
) -> None:
    running = await start(**AD_SETTINGS)
    started = await start_chat(running, KOREAN, AD)
    assert (await settled(running, started["chat_id"], started["message_id"]))["delivery_status"] == "sent"
    [sent] = nhn.sent
    assert sent["kind"] == "ad-sms"  # NHN's advertising endpoint
    assert sent["body"].startswith("(광고)브릿지상점 12월 할인")
    assert sent["body"].endswith("무료수신거부 080-123-4567")


async def test_an_ad_at_22_kst_without_night_consent_is_refused(
    start: StartBridge, nhn: NhnSandbox, plugin: SmsPlugin
) -> None:
    plugin.clock = lambda: datetime(2026, 12, 7, 13, 0, tzinfo=UTC)  # 22:00 KST
    running = await start(**AD_SETTINGS)
    started = await start_chat(running, KOREAN, AD)
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert failed["delivery_status"] == "failed"
    assert "21:00 and 08:00 KST" in failed["delivery_error"]
    assert nhn.sent == []
    # With the customer's night-time consent recorded, the same ad goes out.
    consent = await sms_api(running, "POST", "/night-consents", json={"phone": "010-1234-5678"})
    assert consent == (200, {"phone": KOREAN, "night_consent": True})
    again = await start_chat(running, KOREAN, AD)
    assert (await settled(running, again["chat_id"], again["message_id"]))["delivery_status"] == "sent"
    assert len(nhn.sent) == 1


async def test_only_an_operator_may_record_a_customers_night_time_consent(
    start: StartBridge, nhn: NhnSandbox, plugin: SmsPlugin
) -> None:
    plugin.clock = lambda: datetime(2026, 12, 7, 13, 0, tzinfo=UTC)  # 22:00 KST
    running = await start(**AD_SETTINGS)
    _, token = await create_manager(running.bridge.db, running.bridge.workspace_id, "Viewer", operator=False)
    viewer = {"Authorization": f"Bearer {token}"}
    refused = await sms_api(running, "POST", "/night-consents", json={"phone": KOREAN}, headers=viewer)
    assert refused == (403, {"error": "this needs the operator seat", "code": "operator_seat"})
    # Nothing was recorded: the night-time ad is still refused.
    started = await start_chat(running, KOREAN, AD)
    assert (await settled(running, started["chat_id"], started["message_id"]))["delivery_status"] == "failed"
    assert nhn.sent == []


async def test_an_ad_without_the_ad_settings_is_refused(start: StartBridge, nhn: NhnSandbox) -> None:
    running = await start()
    started = await start_chat(running, KOREAN, AD)
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert "ad_opt_out_number" in failed["delivery_error"]
    assert nhn.sent == []


async def test_sms_and_lms_are_billed_at_their_prices_and_failures_are_free(
    start: StartBridge, nhn: NhnSandbox, twilio: TwilioSandbox
) -> None:
    running = await start(sms_price_pu=9, lms_price_pu=30)
    sms = await start_chat(running, KOREAN, "짧은 안내")
    await settled(running, sms["chat_id"], sms["message_id"])
    lms = await start_chat(running, KOREAN, "가" * 100)
    await settled(running, lms["chat_id"], lms["message_id"])
    bad = await start_chat(running, KOREAN, "😀")
    await settled(running, bad["chat_id"], bad["message_id"])
    chat = await running.api("GET", f"/chats/{sms['chat_id']}")
    customer = await running.api("GET", f"/customers/{chat['customer_id']}")
    billed = {s["message_id"]: (s["amount_pu"], s["category"]) for s in customer["sent_messages"]}
    assert billed == {sms["message_id"]: (9, "sms"), lms["message_id"]: (30, "lms")}


async def _start_raw(running: object, text: str) -> tuple[int, str]:
    from bridgekit.testing.harness import RunningBridge

    assert isinstance(running, RunningBridge)
    body = {"integration": "sms", "text": text, "contact": {"kind": "phone", "value": KOREAN}}
    async with running.session.post(f"{running.url}/api/v1/chats", json=body) as resp:
        return resp.status, await resp.text()
