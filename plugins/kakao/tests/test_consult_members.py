"""A consultation-talk lead merges with the site's member record when the member signs in
with Kakao (K5), over real HTTP against the reseller sandbox, on both databases: the chat,
its messages, the lead's profile fields and events follow the member; the lead is gone; the
same KakaoTalk user's next message lands on the member's customer."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from sqlalchemy import select

from bridgekit_kakao.consult import CONTACT_KIND, billing_day
from bridgekit_kakao.consult_members import MEMBER_KIND
from bridgekit_kakao.consult_sandbox import ConsultSandbox


@pytest.fixture
def running(consult_running: RunningBridge) -> RunningBridge:
    return consult_running


def hook(running: RunningBridge) -> str:
    return f"{running.url}/hooks/consult"


async def signed_in(running: RunningBridge, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The site reports "member M signed in with Kakao user key K"."""
    async with running.session.post(f"{running.url}/api/v1/kakao_consult/members", json=body) as resp:
        return resp.status, await resp.json()


async def panel(running: RunningBridge, customer_id: int) -> dict[str, Any]:
    found: dict[str, Any] = await running.api("GET", f"/customers/{customer_id}")
    return found


def yesterday_kst_ms(hour: int) -> int:
    """Kakao's milliseconds for ``hour`` o'clock KST in yesterday's billing window (K7)."""
    day = billing_day(datetime.now(UTC).replace(tzinfo=None)) - timedelta(days=1)
    moment = datetime.combine(day, time(hour)) - timedelta(hours=9)
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


async def consultation_charges(running: RunningBridge) -> list[int]:
    """The ledger's consultation charges, once the bots' queue (which bills them) is drained."""

    async def drained() -> bool:
        async with running.bridge.db.read() as conn:
            return (await conn.execute(select(s.flow_events.c.id).limit(1))).first() is None

    await running.wait_for(drained)
    async with running.bridge.db.read() as conn:
        rows = await conn.execute(
            select(s.ledger.c.amount_pu).where(s.ledger.c.description.contains("consultation"))
        )
        return [int(r.amount_pu) for r in rows]


async def status_of(running: RunningBridge, path: str) -> int:
    async with running.session.get(f"{running.url}/api/v1{path}") as resp:
        return resp.status


async def test_the_lead_merges_into_the_member_and_the_next_message_lands_there(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    # The member is known to bridgekit already, with a profile field of their own.
    member = await running.bridge.add_handle(MEMBER_KIND, "M-100", name="이영희", member=True)
    await running.api("PATCH", f"/customers/{member}", json={"profile": {"grade": "gold"}})
    # A KakaoTalk user asks through consultation talk: a lead known only by the user key.
    assert (
        await reseller.customer_says(
            hook(running), "uk-lee", "주문한 코트 배송 문의요", at_ms=yesterday_kst_ms(10)
        )
        == 200
    )
    chats = await running.wait_for(running.chats)
    chat_id = chats[0]["id"]
    lead = await running.bridge.customer_for_handle(CONTACT_KIND, "uk-lee", integration="consult")
    assert lead is not None
    assert lead != member
    assert (await panel(running, lead))["customer"]["is_lead"] is True
    await running.api(
        "PATCH", f"/customers/{lead}", json={"profile": {"memo": "코트 사이즈 95", "grade": "new"}}
    )
    await running.api(
        "POST", f"/customers/{lead}/events", json={"name": "page_view", "properties": {"url": "/coat"}}
    )
    await running.reply(chat_id, "확인해 드릴게요.")

    # The member signs in on the site, then with Kakao: the site tells bridgekit.
    status, answer = await signed_in(running, {"member_id": "M-100", "user_key": "uk-lee"})
    assert (status, answer) == (200, {"customer_id": member, "merged_customer_id": lead})

    merged = await panel(running, member)
    assert [c["id"] for c in merged["chats"]] == [chat_id]
    assert merged["customer"]["name"] == "이영희"
    assert merged["customer"]["is_lead"] is False
    assert merged["customer"]["profile"] == {
        "grade": "gold",
        "memo": "코트 사이즈 95",
    }  # the member's own wins
    kakao = [c for c in merged["customer"]["contacts"] if c["kind"] == CONTACT_KIND]
    assert [(c["value"], c["verified"]) for c in kakao] == [("uk-lee", True)]
    assert [e["name"] for e in merged["events"]] == ["page_view"]
    texts = [m["text"] for m in await running.messages(chat_id)]
    assert "주문한 코트 배송 문의요" in texts
    assert "확인해 드릴게요." in texts
    assert await status_of(running, f"/customers/{lead}") == 404

    # The same KakaoTalk user writes again: the member's chat, no new lead.
    assert (
        await reseller.customer_says(
            hook(running), "uk-lee", "회원으로 로그인했어요", at_ms=yesterday_kst_ms(15)
        )
        == 200
    )

    async def second_message_in() -> bool:
        return any(m["text"] == "회원으로 로그인했어요" for m in await running.messages(chat_id))

    await running.wait_for(second_message_in)
    assert [c["id"] for c in await running.chats()] == [chat_id]
    assert await running.bridge.customer_for_handle(CONTACT_KIND, "uk-lee", integration="consult") == member
    # K7: one consultation in the window, paid by the lead: the member is not charged again.
    assert await consultation_charges(running) == [80]
    # The manager still answers in the same session.
    await running.reply(chat_id, "회원님 주문 확인했습니다.")
    await running.wait_for(
        lambda: any((w.user_key, w.text) == ("uk-lee", "회원님 주문 확인했습니다.") for w in reseller.sent)
    )

    # Saying it again changes nothing.
    assert await signed_in(running, {"member_id": "M-100", "user_key": "uk-lee"}) == (
        200,
        {"customer_id": member, "merged_customer_id": None},
    )


async def test_a_lead_with_no_member_record_becomes_the_member(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    assert await reseller.customer_says(hook(running), "uk-park", "안녕하세요") == 200
    await running.wait_for(running.chats)
    lead = await running.bridge.customer_for_handle(CONTACT_KIND, "uk-park", integration="consult")
    assert lead is not None
    status, answer = await signed_in(running, {"member_id": "M-7", "user_key": "uk-park", "name": "박민수"})
    assert (status, answer) == (200, {"customer_id": lead, "merged_customer_id": None})
    customer = (await panel(running, lead))["customer"]
    assert customer["is_lead"] is False
    assert {(c["kind"], c["value"]) for c in customer["contacts"]} == {
        (CONTACT_KIND, "uk-park"),
        (MEMBER_KIND, "M-7"),
    }


async def test_a_member_who_never_chatted_gets_the_first_consultation(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    status, answer = await signed_in(running, {"member_id": "M-9", "user_key": "uk-choi", "name": "최지우"})
    assert status == 200
    assert answer["merged_customer_id"] is None
    member = answer["customer_id"]
    assert await reseller.customer_says(hook(running), "uk-choi", "처음 문의드려요") == 200
    chats = await running.wait_for(running.chats)
    assert [c["id"] for c in (await panel(running, member))["chats"]] == [chats[0]["id"]]
    assert (await panel(running, member))["customer"]["name"] == "최지우"


@pytest.mark.parametrize(
    "body",
    [
        {"member_id": "M-1"},
        {"user_key": "uk-1"},
        {"member_id": "", "user_key": "uk-1"},
        {"member_id": "M-1", "user_key": "has space"},
        {"member_id": "M-1", "user_key": "uk-1", "integration": "nope"},
        {"member_id": 5, "user_key": "uk-1"},
    ],
)
async def test_bad_requests_are_refused_clearly(running: RunningBridge, body: dict[str, Any]) -> None:
    status, answer = await signed_in(running, body)
    assert status in (400, 404)
    assert answer["error"]
    assert await running.chats() == []
