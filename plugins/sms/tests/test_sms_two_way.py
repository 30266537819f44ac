"""Customers' texts in, over HTTP from the sandboxes: Twilio's signed webhook and NHN's MO
callback open chats in the phone slot, replays are stored once, forged signatures store
nothing, STOP blocks later sends; ``bridgekit plugins`` lists SMS first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import MakeBridge

from bridgekit_sms.plugin import CHANNEL_SPEC, SmsPlugin
from bridgekit_sms.sandbox import NhnSandbox, TwilioSandbox, integration
from bridgekit_sms.testkit import ABROAD, KOREAN, NAME, StartBridge, settled, start_chat


async def test_an_inbound_sms_opens_a_chat_in_the_phone_slot_and_the_reply_reaches_twilio(
    start: StartBridge, twilio: TwilioSandbox
) -> None:
    running = await start()
    assert await twilio.post_inbound(f"{running.url}/hooks/{NAME}", ABROAD, "Where is my order?") == 200
    [chat] = await running.chats()
    assert chat["channel"] == "sms"
    assert chat["mark"] == CHANNEL_SPEC.mark
    assert CHANNEL_SPEC.inbox_slot == InboxSlot.PHONE
    [inbound] = await running.messages(chat["id"])
    assert inbound["text"] == "Where is my order?"
    reply = await running.reply(chat["id"], "It left this morning.")
    assert (await settled(running, chat["id"], reply["id"]))["delivery_status"] == "sent"
    assert [(m["To"], m["Body"]) for m in twilio.sent] == [(ABROAD, "It left this morning.")]
    assert twilio.sent[0]["StatusCallback"] == f"{running.url}/hooks/{NAME}?event=status"


async def test_a_forged_twilio_signature_is_rejected_and_stores_nothing(
    start: StartBridge, twilio: TwilioSandbox
) -> None:
    running = await start()
    status = await twilio.post_inbound(f"{running.url}/hooks/{NAME}", ABROAD, "hi", token="not-the-token")
    assert status == 401
    assert await running.chats() == []
    # Signed for another URL (a replay to another bridge's hook) does not pass either.
    params = twilio.inbound_params(ABROAD, "hi")
    from bridgekit_sms.inbound import twilio_signature

    signature = twilio_signature(twilio.auth_token, "https://elsewhere.example/hooks/sms", params.items())
    status, _ = await running.post_hook(
        NAME,
        "&".join(f"{k}={v}" for k, v in params.items()).encode(),
        {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 401
    assert await running.chats() == []


async def test_a_replayed_inbound_sms_is_stored_once(start: StartBridge, twilio: TwilioSandbox) -> None:
    running = await start()
    for _ in range(3):
        assert (
            await twilio.post_inbound(f"{running.url}/hooks/{NAME}", ABROAD, "once", sid="SMreplayed") == 200
        )
    [chat] = await running.chats()
    assert [m["text"] for m in await running.messages(chat["id"])] == ["once"]


async def test_stop_blocks_the_next_send(start: StartBridge, twilio: TwilioSandbox) -> None:
    running = await start()
    hook = f"{running.url}/hooks/{NAME}"
    assert await twilio.post_inbound(hook, ABROAD, "Hello") == 200
    [chat] = await running.chats()
    assert await twilio.post_inbound(hook, ABROAD, "STOP") == 200
    stop = (await running.messages(chat["id"]))[-1]
    assert stop["text"] == "STOP"
    reply = await running.reply(chat["id"], "Sorry to see you go")
    failed = await settled(running, chat["id"], reply["id"])
    assert failed["delivery_status"] == "failed"
    assert "opted out" in failed["delivery_error"]
    assert twilio.sent == []
    customer = await running.api("GET", f"/customers/{chat['customer_id']}")
    assert "sms_opt_out" in [e.get("kind") or e.get("name") for e in customer["events"]]
    # START lets texts through again.
    assert await twilio.post_inbound(hook, ABROAD, "START") == 200
    twilio.opted_out.discard(ABROAD)
    again = await running.reply(chat["id"], "Welcome back")
    assert (await settled(running, chat["id"], again["id"]))["delivery_status"] == "sent"


async def test_korean_stop_keyword_blocks_sends_through_nhn(start: StartBridge, nhn: NhnSandbox) -> None:
    running = await start()
    assert await nhn.post_mo(f"{running.url}/hooks/{NAME}", "01012345678", "수신거부") == 200
    started = await start_chat(running, KOREAN, "12월 안내")
    failed = await settled(running, started["chat_id"], started["message_id"])
    assert "opted out" in failed["delivery_error"]
    assert nhn.sent == []


async def test_an_nhn_mo_text_opens_a_chat_and_the_reply_goes_back_through_nhn(
    start: StartBridge, nhn: NhnSandbox
) -> None:
    running = await start()
    hook = f"{running.url}/hooks/{NAME}"
    assert await nhn.post_mo(hook, "010-1234-5678", "배송 언제 되나요?", mo_key="mo-1") == 200
    assert await nhn.post_mo(hook, "010-1234-5678", "배송 언제 되나요?", mo_key="mo-1") == 200  # replayed
    assert await nhn.post_mo(hook, "010-1234-5678", "forged", token="wrong") == 401
    [chat] = await running.chats()
    assert [m["text"] for m in await running.messages(chat["id"])] == ["배송 언제 되나요?"]
    reply = await running.reply(chat["id"], "오늘 출발합니다.")
    assert (await settled(running, chat["id"], reply["id"]))["delivery_status"] == "sent"
    assert nhn.sent[0]["recipientList"][0]["recipientNo"] == "01012345678"
    assert nhn.texts == ["오늘 출발합니다."]


async def test_the_answer_to_a_started_chat_joins_it_and_the_customer(
    start: StartBridge, twilio: TwilioSandbox
) -> None:
    running = await start()
    started = await start_chat(running, ABROAD, "Your order shipped")
    await settled(running, started["chat_id"], started["message_id"])
    assert await twilio.post_inbound(f"{running.url}/hooks/{NAME}", ABROAD, "Thanks!") == 200
    [chat] = await running.chats()
    assert chat["id"] == started["chat_id"]
    assert [m["text"] for m in await running.messages(chat["id"])] == ["Your order shipped", "Thanks!"]


def test_bridgekit_plugins_lists_sms_first(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "bridgekit"
    done = subprocess.run([str(command), "plugins"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[:2] == ["sms", "SMS"]


async def test_other_plugins_and_the_core_text_a_phone_through_bridge_send_text(
    start: StartBridge, nhn: NhnSandbox, twilio: TwilioSandbox
) -> None:
    running = await start(lms_price_pu=45)
    result = await running.bridge.send_text(
        "010-1234-5678", "상담 답변이 도착했습니다. " * 5, idempotency_key="follow-up-7", purpose="follow_up"
    )
    again = await running.bridge.send_text(
        "010-1234-5678", "상담 답변이 도착했습니다. " * 5, idempotency_key="follow-up-7", purpose="follow_up"
    )
    assert again.provider_message_id == result.provider_message_id
    assert len(nhn.sent) == 1  # the same key never sends twice
    assert nhn.sent[0]["kind"] == "mms"
    assert result.meta["charge"] == {
        "amount_pu": 45,
        "category": "lms",
        "description": "LMS (up to 2,000 bytes)",
    }
    abroad = await running.bridge.send_text(ABROAD, "Your answer is ready", idempotency_key="follow-up-8")
    assert abroad.meta["segments"] == 1
    assert twilio.texts == ["Your answer is ready"]
    # The same rules as chat messages: an opted-out number is refused.
    assert await twilio.post_inbound(f"{running.url}/hooks/{NAME}", ABROAD, "STOP") == 200
    with pytest.raises(PermanentDeliveryError, match="opted out"):
        await running.bridge.send_text(ABROAD, "again", idempotency_key="follow-up-9")


async def test_a_verified_phone_joins_the_customer_who_has_it(
    make_bridge: MakeBridge, plugin: SmsPlugin, nhn: NhnSandbox, twilio: TwilioSandbox
) -> None:
    """Two SMS integrations (two workspaces' numbers): the same phone texting both is one
    customer, found by the verified phone number."""
    running = await make_bridge(
        plugins={"sms": plugin},
        integrations={"sms-a": integration(nhn, twilio), "sms-b": integration(nhn, twilio)},
    )
    assert await twilio.post_inbound(f"{running.url}/hooks/sms-a", ABROAD, "first") == 200
    assert await twilio.post_inbound(f"{running.url}/hooks/sms-b", ABROAD, "second") == 200
    chats = await running.chats()
    assert len(chats) == 2
    assert len({chat["customer_id"] for chat in chats}) == 1


async def test_a_manager_starts_a_chat_with_a_known_customer_by_their_phone(
    make_bridge: MakeBridge, plugin: SmsPlugin, nhn: NhnSandbox, twilio: TwilioSandbox
) -> None:
    """E10 by customer id: the customer's phone handle is used."""
    running = await make_bridge(
        plugins={"sms": plugin},
        integrations={"sms-a": integration(nhn, twilio), "sms-b": integration(nhn, twilio)},
    )
    assert await twilio.post_inbound(f"{running.url}/hooks/sms-a", ABROAD, "hello") == 200
    [chat] = await running.chats()
    started = await running.api(
        "POST", "/chats", json={"integration": "sms-b", "customer_id": chat["customer_id"], "text": "From B"}
    )
    assert (await settled(running, started["chat_id"], started["message_id"]))["delivery_status"] == "sent"
    assert [(m["To"], m["Body"]) for m in twilio.sent] == [(ABROAD, "From B")]
