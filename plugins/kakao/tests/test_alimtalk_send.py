"""Alimtalk through the NHN Cloud sandbox over HTTP: one call sends a template to a customer;
only approved templates, every variable filled, only to customers with a Korean mobile
number; what reaches NHN; billed 7 PU once; one chat per customer, closed (K3, K7)."""

from __future__ import annotations

import aiohttp
from bridgekit.inbox.managers import create_manager
from bridgekit_sms.sandbox import NhnSandbox

from bridgekit_kakao.sandbox import AlimtalkSandbox
from bridgekit_kakao.testkit import (
    AS_SENT,
    SHIPPED,
    MakeCustomer,
    StartBridge,
    alimtalk,
    call,
    render,
    send,
    sent_alimtalk,
    sent_messages,
    settled,
)

PARAMETERS = {"name": "홍길동", "invoice": "6079-1234-5678"}
FILLED = "홍길동님, 주문하신 상품이 발송되었습니다. 송장번호: 6079-1234-5678"


async def test_one_call_sends_an_approved_template_with_its_fields_and_bills_7_pu_once(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    started = await sent_alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
    assert started["text"] == FILLED
    message = await settled(running, started)
    assert message["delivery_status"] == "sent", message
    assert message["author_name"] == "Test Operator"  # sent as the manager who called
    assert len(kakao.sent) == 1
    sent = kakao.sent[0]
    assert sent["recipientNo"] == AS_SENT
    assert sent["templateCode"] == SHIPPED
    assert sent["templateParameter"] == PARAMETERS
    assert sent["resendParameter"] == {"isResend": False}  # bridgekit sends the fallback itself
    assert len(kakao.idempotency_keys) == 1
    assert kakao.idempotency_keys[0]
    assert sms.sent == []
    # I17 and K7: the customer's sent messages list it, billed once under "social media".
    listed = await sent_messages(running, started["chat_id"])
    assert [(m["text"], m["amount_pu"], m["category"]) for m in listed] == [(FILLED, 7, "social_media")]
    # A notification does not sit in the open inbox: its chat is closed.
    assert started["chat_state"] == "closed"
    assert await running.chats(state="open") == []


async def test_a_customers_alimtalks_share_one_chat_and_a_repeated_key_sends_once(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    kakao.add_template("PAID_01", "#{name}님, 결제가 완료되었습니다.")
    running = await start()
    customer_id = await make_customer(running)
    first = await sent_alimtalk(running, customer_id, SHIPPED, **PARAMETERS)
    second = await sent_alimtalk(running, customer_id, "PAID_01", name="홍길동")
    assert second["chat_id"] == first["chat_id"]
    await settled(running, second)
    # A client retrying its request with the same key gets the same message, sent once.
    status, again = await alimtalk(running, customer_id, "PAID_01", key="order-7-paid", name="홍길동")
    assert status == 201, again
    status, repeated = await alimtalk(running, customer_id, "PAID_01", key="order-7-paid", name="홍길동")
    assert repeated["message_id"] == again["message_id"]
    await settled(running, {"chat_id": first["chat_id"], "message_id": again["message_id"]})
    # The outbox sends a customer's queued messages concurrently: in any order, each once.
    assert sorted(s["templateCode"] for s in kakao.sent) == sorted([SHIPPED, "PAID_01", "PAID_01"])
    (chat,) = await running.chats()
    assert chat["state"] == "closed"
    listed = await sent_messages(running, chat["id"])
    assert [(m["amount_pu"], m["category"]) for m in listed] == [(7, "social_media")] * 3


async def test_the_template_and_parameters_reach_nhn_as_given_not_read_back_from_the_text(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    # A free-form template reads like every other: from the text alone SHIPPED_01 (more
    # fixed text) would be taken. The one-call send names its template, so that one goes.
    kakao.add_template("FREE_01", "#{body}")
    running = await start()
    customer_id = await make_customer(running)
    started = await sent_alimtalk(running, customer_id, "FREE_01", body=FILLED)
    assert (await settled(running, started))["delivery_status"] == "sent"
    assert [(s["templateCode"], s["templateParameter"]) for s in kakao.sent] == [
        ("FREE_01", {"body": FILLED})
    ]


async def test_a_template_not_approved_is_refused_and_nothing_is_sent(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox, make_customer: MakeCustomer
) -> None:
    kakao.add_template("REVIEW_01", "#{name}님, 예약이 확정되었습니다.", status="TSC02")
    kakao.add_template("REJECT_01", "#{name}님, 쿠폰이 발급되었습니다.", status="TSC04")
    running = await start()
    customer_id = await make_customer(running)
    for code, state in (("REVIEW_01", "in review"), ("REJECT_01", "rejected")):
        status, answer = await alimtalk(running, customer_id, code, name="홍길동")
        assert status == 422, answer
        assert f"{code}" in answer["error"]
        assert state in answer["error"]
        assert "only templates Kakao approved" in answer["error"]
    status, answer = await render(running, "REVIEW_01", name="홍길동")
    assert status == 422
    assert "in review" in answer["error"]
    status, answer = await alimtalk(running, customer_id, "NOPE_01")
    assert status == 404
    assert "no Alimtalk template 'NOPE_01'" in answer["error"]
    assert await running.chats() == []  # nothing queued
    assert kakao.sent == []
    assert sms.sent == []


async def test_a_missing_or_unknown_variable_is_refused_before_nhn(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    for answer_of in (
        lambda **p: alimtalk(running, customer_id, SHIPPED, **p),
        lambda **p: render(running, SHIPPED, **p),
    ):
        status, answer = await answer_of(name="홍길동")
        assert status == 422
        assert "needs a value for #{invoice}" in answer["error"]
        # The inbox says it in the manager's language (error.kakao_alimtalk_variable_missing).
        assert answer["code"] == "kakao_alimtalk_variable_missing"
        assert answer["details"] == {"variables": "#{invoice}"}
        status, answer = await answer_of(name="홍길동", invoice=" ")
        assert status == 422
        assert "needs a value for #{invoice}" in answer["error"]
        status, answer = await answer_of(name="홍길동", invoice="1", coupon="X")
        assert status == 422
        assert "has no variable #{coupon}" in answer["error"]
    assert await running.chats() == []
    assert kakao.sent == []


async def test_a_customer_without_a_korean_mobile_number_gets_nothing(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    no_phone = await make_customer(running, phone=None, name="김메일")
    status, answer = await alimtalk(running, no_phone, SHIPPED, **PARAMETERS)
    assert status == 400, answer
    assert f"customer {no_phone} has no phone handle" in answer["error"]
    status, answer = await alimtalk(running, 999_999, SHIPPED, **PARAMETERS)
    assert status == 400, answer
    assert "no customer 999999" in answer["error"]
    assert await running.chats() == []
    # A number that is not a Korean mobile one is refused when the Alimtalk is delivered,
    # before NHN is called: the message fails with the reason and costs nothing.
    abroad = await make_customer(running, phone="+12025550123", name="John")
    started = await sent_alimtalk(running, abroad, SHIPPED, **PARAMETERS)
    failed = await settled(running, started)
    assert failed["delivery_status"] == "failed"
    assert "is not a Korean mobile number" in failed["delivery_error"]
    assert kakao.sent == []
    assert sms.sent == []
    assert await sent_messages(running, started["chat_id"]) == []


async def test_the_alimtalk_routes_need_a_manager_and_sending_or_syncing_the_operator_seat(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    running = await start()
    customer_id = await make_customer(running)
    async with aiohttp.ClientSession() as stranger:
        for method, path in (
            ("GET", "/api/v1/kakao_alimtalk/templates"),
            ("POST", "/api/v1/kakao_alimtalk/templates/sync"),
            ("POST", "/api/v1/kakao_alimtalk/render"),
            ("POST", "/api/v1/kakao_alimtalk/messages"),
        ):
            async with stranger.request(method, f"{running.url}{path}") as resp:
                assert resp.status == 401, (method, path)
    _, token = await create_manager(running.bridge.db, running.bridge.workspace_id, "Viewer", operator=False)
    body = {"customer_id": customer_id, "template_code": SHIPPED, "parameters": PARAMETERS}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as viewer:
        for path, json in (("templates/sync", None), ("messages", body)):
            async with viewer.post(f"{running.url}/api/v1/kakao_alimtalk/{path}", json=json) as resp:
                assert resp.status == 403, path
                assert "operator seat" in (await resp.json())["error"]
        async with viewer.get(f"{running.url}/api/v1/kakao_alimtalk/templates") as resp:
            assert resp.status == 200
    status, answer = await call(
        running, "POST", "/api/v1/kakao_alimtalk/messages", json=body | {"coupon": "X"}
    )
    assert status == 400
    assert "coupon" in answer["error"]
    assert kakao.sent == []


async def test_the_templates_review_states_follow_nhn_and_a_vanished_one_is_deleted(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    kakao.add_template("ASK_01", "문의가 접수되었습니다.", status="TSC01")
    kakao.add_template("REVIEW_01", "#{name}님, 예약이 확정되었습니다.", status="TSC02")
    kakao.add_template("REJECT_01", "쿠폰이 발급되었습니다.", status="TSC04")
    running = await start()
    status, listed = await call(running, "POST", "/api/v1/kakao_alimtalk/templates/sync")
    assert status == 200, listed
    states = {t["code"]: t["state"] for t in listed["templates"]}
    assert states == {
        "ASK_01": "requested",
        "REVIEW_01": "in_review",
        SHIPPED: "approved",
        "REJECT_01": "rejected",
    }
    assert next(t for t in listed["templates"] if t["code"] == SHIPPED)["variables"] == ["name", "invoice"]
    del kakao.templates[SHIPPED]  # deleted at NHN (or the channel was linked again)
    kakao.templates["REVIEW_01"].status = "TSC03"
    await call(running, "POST", "/api/v1/kakao_alimtalk/templates/sync")
    status, listed = await call(running, "GET", "/api/v1/kakao_alimtalk/templates")
    states = {t["code"]: t["state"] for t in listed["templates"]}
    assert states[SHIPPED] == "deleted"
    assert states["REVIEW_01"] == "approved"
    status, answer = await render(running, SHIPPED, **PARAMETERS)
    assert status == 422
    assert "deleted" in answer["error"]


async def test_rendering_unknown_templates_asks_nhn_again_at_most_once_in_a_while(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    running = await start()
    await running.wait_for(lambda: kakao.template_reads >= 1)  # the start-up sync
    before = kakao.template_reads
    # Any manager may render: a loop over made-up codes must not become a loop of NHN calls.
    for n in range(5):
        status, answer = await render(running, f"MADE_UP_{n}", name="홍길동")
        assert status == 404, answer
    assert kakao.template_reads == before + 1
    status, _ = await render(running, SHIPPED, **PARAMETERS)  # a known one needs no call at all
    assert (status, kakao.template_reads) == (200, before + 1)


async def test_a_result_nhn_has_not_decided_is_asked_again_and_billed_once_when_delivered(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    kakao.hold_results = True
    running = await start()
    started = await sent_alimtalk(running, await make_customer(running), SHIPPED, **PARAMETERS)
    await running.wait_for(lambda: kakao.sent)
    message = next(m for m in await running.messages(started["chat_id"]) if m["id"] == started["message_id"])
    assert message["delivery_status"] not in ("sent", "failed")  # not decided: neither sent nor billed
    assert await sent_messages(running, started["chat_id"]) == []
    kakao.decide()
    assert (await settled(running, started))["delivery_status"] == "sent"
    assert len(kakao.sent) == 1  # asking again never sent again
    listed = await sent_messages(running, started["chat_id"])
    assert [(m["amount_pu"], m["category"]) for m in listed] == [(7, "social_media")]


async def test_a_reply_typed_in_an_alimtalk_chat_is_refused_for_the_template_form(
    start: StartBridge, kakao: AlimtalkSandbox, make_customer: MakeCustomer
) -> None:
    """A manager's typed reply is not a template someone chose, even when its words fill one
    in: refused with a code the inbox words, nothing stored, nothing sent."""
    kakao.add_template("ANSWER_01", "#{name}님, 문의하신 내용에 답변이 등록되었습니다.")
    running = await start()
    started = await sent_alimtalk(running, await make_customer(running), SHIPPED, **PARAMETERS)
    await settled(running, started)
    before = await running.messages(started["chat_id"])
    for text in ("홍길동님, 문의하신 내용에 답변이 등록되었습니다.", "안녕하세요, 문의 주셔서 감사합니다."):
        status, answer = await call(
            running, "POST", f"/api/v1/chats/{started['chat_id']}/messages", json={"text": text}
        )
        assert status == 422, answer
        assert answer["code"] == "kakao_alimtalk_template_only"
        assert "Alimtalk form" in answer["error"]
    assert await running.messages(started["chat_id"]) == before
    assert [s["templateCode"] for s in kakao.sent] == [SHIPPED]


async def test_a_typed_text_must_fill_in_an_approved_template_completely(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    kakao.add_template("REJECT_01", "#{name}님, 쿠폰이 발급되었습니다.", status="TSC04")
    running = await start()
    rejected = await settled(running, await send(running, "홍길동님, 쿠폰이 발급되었습니다."))
    assert rejected["delivery_status"] == "failed"
    assert "REJECT_01" in rejected["delivery_error"]
    assert "rejected" in rejected["delivery_error"]
    left = await settled(
        running, await send(running, "홍길동님, 주문하신 상품이 발송되었습니다. 송장번호: #{invoice}")
    )
    assert left["delivery_status"] == "failed"
    assert "fill in #{invoice}" in left["delivery_error"]
    assert kakao.sent == []
