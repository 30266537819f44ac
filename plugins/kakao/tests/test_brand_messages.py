"""Kakao brand messages (브랜드 메시지) through NHN's brand message API, against the sandbox
over HTTP, on both databases: delivered once to a friend with a phone and billed 17 PU
(K7); refused before NHN is called for a customer who is not a friend, has no phone, at
20:50 to 08:00 KST, or from a channel without both business verifications (K3); a failed
send costs nothing; the same rules hold for a bot's send and a reply typed in the chat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from bridgekit.exceptions import PermanentDeliveryError
from bridgekit.flow import ChatView, CustomerEventView
from bridgekit.model import Contact, OutboundMessage
from bridgekit.storage import schema as s
from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge
from bridgekit.testing.progress import KeptProgress
from sqlalchemy import select

from bridgekit_kakao.brand_sandbox import NOT_NOW, BrandSandbox, brand_integration
from bridgekit_kakao.plugin import KakaoPlugin
from bridgekit_kakao.testkit import AS_SENT, MakeCustomer, call, sent_messages, settled

NOON_KST = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
NINE_PM_KST = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
EIGHT_FORTY_NINE_PM_KST = datetime(2026, 12, 7, 11, 49, tzinfo=UTC)
SALE = "겨울 세일: 전 상품 30% 할인"
AD = f"(광고) {SALE}"

StartBrand = Callable[..., Awaitable[RunningBridge]]


@pytest.fixture
async def brand() -> AsyncIterator[BrandSandbox]:
    async with BrandSandbox() as sandbox:
        sandbox.friends.add(AS_SENT)
        sandbox.clock = lambda: NOON_KST
        yield sandbox


@pytest.fixture
async def plugin() -> AsyncIterator[KakaoPlugin]:
    instance = KakaoPlugin()
    instance.brand.clock = lambda: NOON_KST
    yield instance
    await instance.aclose()


@pytest.fixture
def start(make_bridge: MakeBridge, brand: BrandSandbox, plugin: KakaoPlugin) -> StartBrand:
    async def factory(**settings: Any) -> RunningBridge:
        return await make_bridge(
            plugins={"kakao": plugin},
            integrations={"brand": brand_integration(brand, result_poll_seconds=0.05, **settings)},
        )

    return factory


async def befriend(running: RunningBridge, customer_id: int, friend: bool = True) -> dict[str, Any]:
    """The customer event: the customer added the channel as a friend (or blocked it)."""
    body = {"customer_id": customer_id, "friend": friend}
    status, answer = await call(running, "PUT", "/api/v1/kakao_brand/friends", json=body)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def send_brand(
    running: RunningBridge, customer_id: int, text: str = SALE, **extra: str
) -> tuple[int, Any]:
    body = {"customer_id": customer_id, "text": text, **extra}
    return await call(running, "POST", "/api/v1/kakao_brand/messages", json=body)


async def chat_of(running: RunningBridge, message_id: int) -> int:
    for chat in await running.chats():
        if any(m["id"] == message_id for m in await running.messages(chat["id"])):
            return int(chat["id"])
    raise AssertionError(f"message {message_id} is in no chat")


async def charges(running: RunningBridge) -> list[tuple[int, str]]:
    async with running.bridge.db.read() as conn:
        rows = (await conn.execute(select(s.ledger.c.amount_pu, s.ledger.c.category))).all()
    return [(int(r[0]), str(r[1])) for r in rows]


async def test_a_brand_message_to_a_friend_with_a_phone_is_delivered_once_and_billed_17_pu(
    start: StartBrand, brand: BrandSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    await befriend(running, customer_id)
    status, answer = await send_brand(running, customer_id, idempotency_key="winter-sale-42")
    assert status == 201, answer
    assert answer["text"] == AD  # the ad marker Kakao requires, added
    chat_id = await chat_of(running, answer["message_id"])
    message = await settled(running, {"chat_id": chat_id, "message_id": answer["message_id"]})
    assert message["delivery_status"] == "sent", message
    # A client retrying with the same key gets the same message, sent once.
    status, again = await send_brand(running, customer_id, idempotency_key="winter-sale-42")
    assert (status, again["message_id"]) == (201, answer["message_id"])
    (sent,) = brand.brand_sent
    assert sent["recipientNo"] == AS_SENT
    assert sent["targeting"] == "I"  # channel friends only
    assert sent["content"] == AD
    assert sent["image"] == {"imageUrl": "https://mud-kage.kakao.com/dn/wide/sale.jpg"}
    # I17 and K7: listed among the customer's sent messages, 17 PU under "social media".
    listed = await sent_messages(running, chat_id)
    assert [(m["text"], m["amount_pu"], m["category"]) for m in listed] == [(AD, 17, "social_media")]
    assert await charges(running) == [(17, "social_media")]
    # NHN's result confirmed the friendship (isAddedChannel).
    status, state = await call(running, "GET", f"/api/v1/kakao_brand/friends?customer_id={customer_id}")
    assert (status, state["friend"], state["source"]) == (200, True, "nhn")


async def test_a_customer_who_is_not_a_friend_is_refused_and_nhn_never_called(
    start: StartBrand, brand: BrandSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    status, answer = await send_brand(running, customer_id)  # never said to be a friend
    assert (status, answer["code"]) == (409, "kakao_not_friend"), answer
    assert "is not known to be a friend" in answer["error"]
    await befriend(running, customer_id, friend=False)  # blocked the channel
    status, answer = await send_brand(running, customer_id)
    assert (status, answer["code"], answer["details"]) == (
        409,
        "kakao_not_friend",
        {"customer_id": customer_id},
    )
    assert brand.brand_requests == 0
    assert await running.chats() == []


async def test_a_customer_without_a_phone_number_is_refused(
    start: StartBrand, brand: BrandSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running, phone=None)
    await befriend(running, customer_id)
    status, answer = await send_brand(running, customer_id)
    assert (status, answer["code"]) == (400, "customer_unreachable"), answer
    assert "has no phone handle" in answer["error"]
    assert brand.brand_requests == 0
    assert await running.chats() == []


async def test_at_21_00_kst_a_brand_message_is_refused_and_at_20_49_it_is_sent(
    start: StartBrand, brand: BrandSandbox, plugin: KakaoPlugin, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    await befriend(running, customer_id)
    plugin.brand.clock = lambda: NINE_PM_KST
    status, answer = await send_brand(running, customer_id)
    assert (status, answer["code"]) == (409, "kakao_ad_hours"), answer
    assert answer["details"] == {"starts": "20:50", "ends": "08:00"}
    # A bot's send at night is queued by the core but fails before NHN: never sent, never held.
    message_id = await running.bridge.send_to_customer(customer_id, "brand", AD, idempotency_key="bot-night")
    failed = await settled(running, {"chat_id": await chat_of(running, message_id), "message_id": message_id})
    assert failed["delivery_status"] == "failed"
    assert "may not be sent from 20:50 to 08:00 KST" in failed["delivery_error"]
    assert brand.brand_requests == 0
    plugin.brand.clock = brand.clock = lambda: EIGHT_FORTY_NINE_PM_KST
    status, answer = await send_brand(running, customer_id)
    assert status == 201, answer
    sent = await settled(running, {"chat_id": await chat_of(running, answer["message_id"]), **answer})
    assert sent["delivery_status"] == "sent", sent
    assert [m["content"] for m in brand.brand_sent] == [AD]
    assert await charges(running) == [(17, "social_media")]


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"kakao_business_verified": False}, "kakao"),
        ({"workspace_business_verified": False}, "workspace"),
    ],
)
async def test_without_both_business_verifications_brand_messages_are_refused(
    start: StartBrand,
    brand: BrandSandbox,
    make_customer: MakeCustomer,
    settings: dict[str, bool],
    missing: str,
) -> None:
    running = await start(**settings)
    customer_id = await make_customer(running)
    await befriend(running, customer_id)
    status, answer = await send_brand(running, customer_id)
    assert (status, answer["code"], answer["details"]) == (
        409,
        "kakao_business_unverified",
        {"missing": missing},
    )
    assert brand.brand_requests == 0


async def test_a_brand_message_kakao_does_not_deliver_costs_nothing_and_teaches_the_friend_state(
    start: StartBrand, brand: BrandSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    await befriend(running, customer_id)  # told so, but Kakao knows better
    brand.friends.clear()
    status, answer = await send_brand(running, customer_id)
    assert status == 201, answer
    failed = await settled(running, {"chat_id": await chat_of(running, answer["message_id"]), **answer})
    assert failed["delivery_status"] == "failed"
    assert "Kakao did not deliver the brand message" in failed["delivery_error"]
    assert len(brand.brand_sent) == 1
    assert await charges(running) == []
    assert await sent_messages(running, await chat_of(running, answer["message_id"])) == []
    # NHN said isAddedChannel false: the next send is refused before NHN is called.
    status, answer = await send_brand(running, customer_id)
    assert (status, answer["code"]) == (409, "kakao_not_friend")
    assert brand.brand_requests == 1
    # Kakao's own night rule, had bridgekit's clock been wrong: failed, not billed.
    brand.friends.add(AS_SENT)
    await befriend(running, customer_id)
    brand.clock = lambda: NINE_PM_KST
    status, answer = await send_brand(running, customer_id)
    failed = await settled(running, {"chat_id": await chat_of(running, answer["message_id"]), **answer})
    assert f"({NOT_NOW})" in failed["delivery_error"]
    assert await charges(running) == []


async def test_a_bots_send_and_a_typed_reply_follow_the_same_rules(
    start: StartBrand, brand: BrandSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    await befriend(running, customer_id)
    # A bot's text must carry the marker itself: what is stored is what the customer reads.
    unmarked = await running.bridge.send_to_customer(customer_id, "brand", SALE, idempotency_key="bot-1")
    chat_id = await chat_of(running, unmarked)
    failed = await settled(running, {"chat_id": chat_id, "message_id": unmarked})
    assert "must start with (광고)" in failed["delivery_error"]
    marked = await running.bridge.send_to_customer(
        customer_id,
        "brand",
        AD,
        idempotency_key="bot-2",
        meta={"kakao_brand": {"image_url": "https://mud-kage.kakao.com/dn/wide/bot.jpg"}},
        author_name="Campaign bot",
    )
    assert (await settled(running, {"chat_id": chat_id, "message_id": marked}))["delivery_status"] == "sent"
    # A manager's reply typed in the customer's brand chat goes with the integration's image.
    reply = await running.reply(chat_id, "(광고) 오늘 자정까지!")
    assert (await settled(running, {"chat_id": chat_id, "message_id": reply["id"]}))[
        "delivery_status"
    ] == "sent"
    assert [(m["content"], m["image"]["imageUrl"]) for m in brand.brand_sent] == [
        (AD, "https://mud-kage.kakao.com/dn/wide/bot.jpg"),
        ("(광고) 오늘 자정까지!", "https://mud-kage.kakao.com/dn/wide/sale.jpg"),
    ]
    assert await charges(running) == [(17, "social_media"), (17, "social_media")]


async def test_a_text_over_the_wide_image_limit_is_refused_with_its_code(
    start: StartBrand, brand: BrandSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    await befriend(running, customer_id)
    status, answer = await send_brand(running, customer_id, "가" * 80)
    assert (status, answer["code"], answer["details"]) == (422, "kakao_brand_too_long", {"max": 76})
    assert brand.brand_requests == 0


async def test_a_kakao_channel_friend_event_of_the_customer_lets_brand_messages_go(
    start: StartBrand, brand: BrandSandbox, plugin: KakaoPlugin, make_customer: MakeCustomer
) -> None:
    """The friend state learned from a customer event (the consultation-talk channel's
    ``kakao_channel_added`` / ``kakao_channel_blocked``), matched by the channel's sender key."""
    running = await start()
    customer_id = await make_customer(running)

    def event(kind: str, sender_key: str) -> CustomerEventView:
        chat = ChatView(
            id=1, state="open", title=None, customer_id=customer_id, integration_id=None, channel=None
        )
        return CustomerEventView(
            chat, None, kind=kind, data={"sender_key": sender_key}, customer_id=customer_id
        )

    plugin.bridgekit_customer_event(event("kakao_channel_added", "another-channel's-key"))
    status, answer = await send_brand(running, customer_id)
    assert (status, answer["code"]) == (409, "kakao_not_friend")
    plugin.bridgekit_customer_event(event("follow", brand.sender_key))  # not said by a Kakao channel
    assert (await send_brand(running, customer_id))[0] == 409
    plugin.bridgekit_customer_event(event("kakao_channel_added", brand.sender_key))
    status, answer = await send_brand(running, customer_id)
    assert status == 201, answer
    sent = await settled(running, {"chat_id": await chat_of(running, answer["message_id"]), **answer})
    assert sent["delivery_status"] == "sent"
    plugin.bridgekit_customer_event(event("kakao_channel_blocked", brand.sender_key))
    status, answer = await send_brand(running, customer_id)
    assert (status, answer["code"]) == (409, "kakao_not_friend")
    assert len(brand.brand_sent) == 1


async def test_after_a_lost_answer_the_retry_never_sends_the_brand_message_twice(
    start: StartBrand, brand: BrandSandbox, plugin: KakaoPlugin, make_customer: MakeCustomer
) -> None:
    """The attempt that lost NHN's answer saved "sending" first; the next one asks again with
    the same X-NC-API-IDEMPOTENCY-KEY, NHN refuses the repeat, and the message fails unsent."""
    running = await start()
    customer_id = await make_customer(running)
    await befriend(running, customer_id)
    status, answer = await send_brand(running, customer_id)
    assert status == 201, answer
    chat_id = await chat_of(running, answer["message_id"])
    await settled(running, {"chat_id": chat_id, **answer})
    (integration,) = running.bridge.integrations_for("kakao_brand")
    message = OutboundMessage(
        message_id=answer["message_id"] + 1000,
        chat_id=chat_id,
        idempotency_key="outbox-lost-answer",
        recipient=Contact("phone", "+821012345678"),
        thread_key="",
        text=AD,
    )
    row = KeptProgress()
    await plugin.bridgekit_deliver(integration, row.attempt(message))  # NHN took it...
    row.progress = {"sending": True}  # ...but the answer was lost before it was saved
    with pytest.raises(PermanentDeliveryError, match="may have sent it, so it is not sent again"):
        await plugin.bridgekit_deliver(integration, row.attempt(message))
    assert [m["content"] for m in brand.brand_sent] == [AD, AD]  # the route's and this one, once
