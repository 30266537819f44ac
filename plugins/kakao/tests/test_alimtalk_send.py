"""Alimtalk through the NHN Cloud sandbox over HTTP: only approved templates, every variable
filled, only to customers with a phone number; what reaches NHN; billed 7 PU once (K3, K7)."""

from __future__ import annotations

import aiohttp
from bridgekit.inbox.customers import new_lead
from bridgekit.inbox.managers import create_manager
from bridgekit.runtime.clock import utcnow
from bridgekit_sms.sandbox import NhnSandbox

from bridgekit_kakao.sandbox import AlimtalkSandbox
from bridgekit_kakao.testkit import AS_SENT, SHIPPED, StartBridge, call, render, send, sent_messages, settled

PARAMETERS = {"name": "홍길동", "invoice": "6079-1234-5678"}
FILLED = "홍길동님, 주문하신 상품이 발송되었습니다. 송장번호: 6079-1234-5678"


async def test_an_approved_template_reaches_nhn_with_its_fields_and_bills_7_pu_once(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox
) -> None:
    running = await start()
    status, rendered = await render(running, SHIPPED, **PARAMETERS)
    assert status == 200, rendered
    assert rendered["text"] == FILLED
    started = await send(running, rendered["text"])
    message = await settled(running, started)
    assert message["delivery_status"] == "sent", message
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


async def test_a_template_not_approved_is_refused_and_nothing_is_sent(
    start: StartBridge, kakao: AlimtalkSandbox, sms: NhnSandbox
) -> None:
    kakao.add_template("REVIEW_01", "#{name}님, 예약이 확정되었습니다.", status="TSC02")
    kakao.add_template("REJECT_01", "#{name}님, 쿠폰이 발급되었습니다.", status="TSC04")
    running = await start()
    status, answer = await render(running, "REVIEW_01", name="홍길동")
    assert status == 422
    assert "in review" in answer["error"]
    assert "only templates Kakao approved" in answer["error"]
    started = await send(running, "홍길동님, 쿠폰이 발급되었습니다.")
    failed = await settled(running, started)
    assert failed["delivery_status"] == "failed"
    assert "REJECT_01" in failed["delivery_error"]
    assert "rejected" in failed["delivery_error"]
    assert kakao.sent == []
    assert sms.sent == []
    assert await sent_messages(running, started["chat_id"]) == []  # failed sends cost nothing


async def test_a_missing_or_unknown_variable_is_refused_before_nhn(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    running = await start()
    status, answer = await render(running, SHIPPED, name="홍길동")
    assert status == 422
    assert "needs a value for #{invoice}" in answer["error"]
    status, answer = await render(running, SHIPPED, name="홍길동", invoice="1", coupon="X")
    assert status == 422
    assert "has no variable #{coupon}" in answer["error"]
    started = await send(running, "홍길동님, 주문하신 상품이 발송되었습니다. 송장번호: #{invoice}")
    failed = await settled(running, started)
    assert failed["delivery_status"] == "failed"
    assert "fill in #{invoice}" in failed["delivery_error"]
    assert kakao.sent == []


async def test_a_customer_without_a_phone_number_is_refused(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    running = await start()
    bridge = running.bridge
    async with bridge.db.write() as conn:
        customer_id, _ = await new_lead(
            conn, bridge.workspace_id, "김메일", ("email", 0, "kim@example.co.kr"), True, utcnow()
        )
    _, rendered = await render(running, SHIPPED, **PARAMETERS)
    body = {"integration": "alimtalk", "customer_id": customer_id, "text": rendered["text"]}
    status, answer = await call(running, "POST", "/api/v1/chats", json=body)
    assert 400 <= status < 500, answer
    assert "phone" in answer["error"]
    assert await running.chats() == []
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


async def test_the_alimtalk_routes_need_a_manager_and_syncing_the_operator_seat(start: StartBridge) -> None:
    running = await start()
    async with aiohttp.ClientSession() as stranger:
        for method, path in (
            ("GET", "/api/v1/kakao_alimtalk/templates"),
            ("POST", "/api/v1/kakao_alimtalk/templates/sync"),
            ("POST", "/api/v1/kakao_alimtalk/render"),
        ):
            async with stranger.request(method, f"{running.url}{path}") as resp:
                assert resp.status == 401, (method, path)
    _, token = await create_manager(running.bridge.db, running.bridge.workspace_id, "Viewer", operator=False)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as viewer:
        async with viewer.post(f"{running.url}/api/v1/kakao_alimtalk/templates/sync") as resp:
            assert resp.status == 403
            assert "operator seat" in (await resp.json())["error"]
        async with viewer.get(f"{running.url}/api/v1/kakao_alimtalk/templates") as resp:
            assert resp.status == 200


async def test_a_result_nhn_has_not_decided_is_asked_again_and_billed_once_when_delivered(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    kakao.hold_results = True
    running = await start()
    _, rendered = await render(running, SHIPPED, **PARAMETERS)
    started = await send(running, rendered["text"])
    await running.wait_for(lambda: kakao.sent)
    message = next(m for m in await running.messages(started["chat_id"]) if m["id"] == started["message_id"])
    assert message["delivery_status"] not in ("sent", "failed")  # not decided: neither sent nor billed
    assert await sent_messages(running, started["chat_id"]) == []
    kakao.decide()
    assert (await settled(running, started))["delivery_status"] == "sent"
    assert len(kakao.sent) == 1  # asking again never sent again
    listed = await sent_messages(running, started["chat_id"])
    assert [(m["amount_pu"], m["category"]) for m in listed] == [(7, "social_media")]


async def test_a_reply_in_an_alimtalk_chat_is_an_alimtalk_too(
    start: StartBridge, kakao: AlimtalkSandbox
) -> None:
    kakao.add_template("ANSWER_01", "#{name}님, 문의하신 내용에 답변이 등록되었습니다.")
    running = await start()
    _, rendered = await render(running, SHIPPED, **PARAMETERS)
    started = await send(running, rendered["text"])
    await settled(running, started)
    reply = await running.api(
        "POST",
        f"/chats/{started['chat_id']}/messages",
        json={"text": "홍길동님, 문의하신 내용에 답변이 등록되었습니다."},
    )
    await settled(running, {"chat_id": started["chat_id"], "message_id": reply["id"]})
    assert [(s["templateCode"], s["templateParameter"]) for s in kakao.sent] == [
        (SHIPPED, PARAMETERS),
        ("ANSWER_01", {"name": "홍길동"}),
    ]
