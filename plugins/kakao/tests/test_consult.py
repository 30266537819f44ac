"""Kakao consultation talk (상담톡) against the reseller sandbox over real HTTP (K1, K7):
a customer's message becomes an inbox chat with the Kakao mark, a manager's reply reaches the
reseller with a unique serial number, a reply after the session expired or ended is refused
with a clear 409, closing the chat ends the session at the reseller, and each customer is
billed 80 PU once per 04:00-03:59 KST window."""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import bridgekit
import pytest
from bridgekit.model import Charge
from bridgekit.storage import schema as s
from bridgekit.testing.conformance import MakeBridge
from bridgekit.testing.harness import RunningBridge
from sqlalchemy import select

from bridgekit_kakao.consult import CHANNEL, billing_day
from bridgekit_kakao.consult_sandbox import ConsultSandbox, integration
from bridgekit_kakao.plugin import KakaoPlugin

KST = timedelta(hours=9)


@pytest.fixture
def running(consult_running: RunningBridge) -> RunningBridge:
    return consult_running


def hook(running: RunningBridge) -> str:
    return f"{running.url}/hooks/consult"


def kst_ms(text: str) -> int:
    """A Korean wall-clock time ("2026-12-01 04:30") as Kakao's milliseconds since the epoch."""
    moment = datetime.fromisoformat(text) - KST
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


async def the_chat(running: RunningBridge) -> dict[str, Any]:
    chats = await running.wait_for(running.chats)
    assert len(chats) == 1, chats
    chat: dict[str, Any] = chats[0]
    return chat


async def refused_reply(running: RunningBridge, chat_id: int, text: str) -> tuple[int, dict[str, Any]]:
    async with running.session.post(
        f"{running.url}/api/v1/chats/{chat_id}/messages", json={"text": text}
    ) as resp:
        return resp.status, await resp.json()


async def ledger(running: RunningBridge) -> list[tuple[int, str, str]]:
    async with running.bridge.db.read() as conn:
        rows = (await conn.execute(select(s.ledger).order_by(s.ledger.c.id))).all()
    return [(r.amount_pu, r.category, r.description) for r in rows]


async def test_a_consultation_round_trips_with_a_unique_serial_number_per_message(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    assert await reseller.customer_says(hook(running), "uk-kim", "배송이 언제 오나요?") == 200
    chat = await the_chat(running)
    assert chat["channel"] == CHANNEL
    assert chat["mark"] == "kakao"
    assert [m["text"] for m in await running.messages(chat["id"])] == ["배송이 언제 오나요?"]

    first = await running.reply(chat["id"], "내일 도착 예정입니다.")
    second = await running.reply(chat["id"], "감사합니다!")
    await running.wait_for(lambda: len(reseller.sent) == 2)
    assert [m.text for m in reseller.sent] == ["내일 도착 예정입니다.", "감사합니다!"]
    session = reseller.sessions["uk-kim"]
    assert {m.user_key for m in reseller.sent} == {"uk-kim"}
    assert {m.session_id for m in reseller.sent} == {session.session_id}
    assert all(m.message_type == "TX" for m in reseller.sent)
    serials = [m.serial_number for m in reseller.sent]
    assert len(set(serials)) == 2
    assert all(0 < len(x) <= 30 for x in serials)

    async def both_sent() -> bool:
        states = {m["id"]: m["delivery_status"] for m in await running.messages(chat["id"])}
        return states[first["id"]] == states[second["id"]] == "sent"

    await running.wait_for(both_sent)
    # I19: the relay reports no reads, so "sent" it stays; the replies themselves are free.
    assert await ledger(running) == [
        (
            80,
            "social_media",
            f"Kakao consultation talk: customer {chat['customer_id']}, "
            f"{billing_day(datetime.now(UTC).replace(tzinfo=None))} 04:00 to "
            f"{billing_day(datetime.now(UTC).replace(tzinfo=None)) + timedelta(days=1)} 03:59 KST",
        )
    ]


async def test_a_reply_after_the_session_expired_is_refused_with_a_clear_409(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    long_ago = int((datetime.now(UTC) - timedelta(days=31)).timestamp() * 1000)
    assert await reseller.customer_says(hook(running), "uk-lee", "안녕하세요", at_ms=long_ago) == 200
    chat = await the_chat(running)
    status, answer = await refused_reply(running, chat["id"], "늦은 답변 죄송합니다")
    assert status == 409, answer
    assert answer["code"] == "kakao_session_expired"
    assert answer["details"] == {"days": 30}
    assert "expired" in answer["error"]
    # nothing was stored or sent
    assert [m["text"] for m in await running.messages(chat["id"])] == ["안녕하세요"]
    assert reseller.writes == []

    # The customer writes again: a new session, and the manager can answer.
    assert await reseller.customer_says(hook(running), "uk-lee", "다시 문의드려요") == 200
    await running.wait_for(lambda: _count(running, chat["id"], 2))
    await running.reply(chat["id"], "네, 말씀하세요")
    await running.wait_for(lambda: [m.text for m in reseller.sent] == ["네, 말씀하세요"])


async def _count(running: RunningBridge, chat_id: int, n: int) -> bool:
    return len(await running.messages(chat_id)) == n


async def test_closing_the_chat_ends_the_session_at_the_reseller_and_refuses_replies(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    assert await reseller.customer_says(hook(running), "uk-park", "환불 요청합니다") == 200
    chat = await the_chat(running)
    session_id = reseller.sessions["uk-park"].session_id
    await running.api("POST", f"/chats/{chat['id']}/close")
    await running.wait_for(lambda: reseller.ended == [("uk-park", session_id)])
    assert reseller.sessions["uk-park"].ended

    status, answer = await refused_reply(running, chat["id"], "처리되었습니다")
    assert (status, answer["code"]) == (409, "kakao_session_ended"), answer
    # Reopening the chat does not bring Kakao's session back: only the customer does.
    await running.api("POST", f"/chats/{chat['id']}/reopen")
    status, answer = await refused_reply(running, chat["id"], "처리되었습니다")
    assert (status, answer["code"]) == (409, "kakao_session_ended"), answer
    assert reseller.writes == []

    assert await reseller.customer_says(hook(running), "uk-park", "하나 더 문의요") == 200
    await running.wait_for(lambda: reseller.sessions["uk-park"].session_id != session_id)
    await running.wait_for(lambda: _count(running, chat["id"], 2))
    await running.reply(chat["id"], "네")
    await running.wait_for(lambda: [m.text for m in reseller.sent] == ["네"])
    assert reseller.sent[0].session_id == reseller.sessions["uk-park"].session_id


async def test_three_consultations_in_one_window_cost_80_pu_once(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    """K7: 04:30, 15:00 and 03:30 the next morning (KST) are one window: one charge, even
    with the chat closed and reopened between them."""
    url = hook(running)
    assert await reseller.customer_says(url, "uk-choi", "첫 상담", at_ms=kst_ms("2026-12-01 04:30")) == 200
    chat = await the_chat(running)
    await running.wait_for(lambda: _ledger_len(running, 1))
    await running.api("POST", f"/chats/{chat['id']}/close")
    await running.wait_for(lambda: len(reseller.ended) == 1)
    assert await reseller.customer_says(url, "uk-choi", "두 번째", at_ms=kst_ms("2026-12-01 15:00")) == 200
    assert await reseller.customer_says(url, "uk-choi", "세 번째", at_ms=kst_ms("2026-12-02 03:30")) == 200
    await running.wait_for(lambda: _count(running, chat["id"], 3))
    await _flow_settled(running)
    charges = await ledger(running)
    assert charges == [
        (
            80,
            "social_media",
            f"Kakao consultation talk: customer {chat['customer_id']}, "
            "2026-12-01 04:00 to 2026-12-02 03:59 KST",
        )
    ]


async def test_0330_and_0430_the_same_morning_are_two_windows_two_charges(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    url = hook(running)
    assert await reseller.customer_says(url, "uk-jung", "새벽 문의", at_ms=kst_ms("2026-12-02 03:30")) == 200
    assert await reseller.customer_says(url, "uk-jung", "아침 문의", at_ms=kst_ms("2026-12-02 04:30")) == 200
    chat = await the_chat(running)
    await running.wait_for(lambda: _ledger_len(running, 2))
    await _flow_settled(running)
    customer = chat["customer_id"]
    assert await ledger(running) == [
        (
            80,
            "social_media",
            f"Kakao consultation talk: customer {customer}, 2026-12-01 04:00 to 2026-12-02 03:59 KST",
        ),
        (
            80,
            "social_media",
            f"Kakao consultation talk: customer {customer}, 2026-12-02 04:00 to 2026-12-03 03:59 KST",
        ),
    ]


async def test_two_customers_in_one_window_are_billed_each(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    url = hook(running)
    at = kst_ms("2026-12-01 10:00")
    assert await reseller.customer_says(url, "uk-a", "a", at_ms=at) == 200
    assert await reseller.customer_says(url, "uk-b", "b", at_ms=at) == 200
    await running.wait_for(lambda: _ledger_len(running, 2))
    assert {c[0] for c in await ledger(running)} == {80}


async def _ledger_len(running: RunningBridge, n: int) -> bool:
    return len(await ledger(running)) == n


async def _flow_settled(running: RunningBridge) -> None:
    """Every bot event handled (the charge is written from ``bridgekit_message_received``)."""

    async def empty() -> bool:
        async with running.bridge.db.read() as conn:
            return not (await conn.execute(select(s.flow_events.c.id).limit(1))).first()

    await running.wait_for(empty)


async def test_a_wrong_token_is_refused_and_stores_nothing_a_malformed_call_is_kept_raw(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    url = hook(running)
    assert await reseller.post(url, reseller.call("uk-x", "forged"), token="wrong-token") == 401
    assert await reseller.post(url, reseller.call("uk-x", "no token"), token="") == 401
    assert await running.chats() == []
    # Authentic but not Kakao's shape: answered 400 and kept raw for a look.
    assert await reseller.post(url, {"user_key": "uk-x", "type": "text"}) == 400
    async with running.bridge.db.read() as conn:
        raws = (await conn.execute(select(s.raw_deliveries.c.error))).scalars().all()
    assert len(raws) == 1
    assert "session_id" in str(raws[0]) or "field" in str(raws[0])
    assert await running.chats() == []


async def test_a_redelivered_photo_is_stored_once_with_its_file_and_a_lost_one_keeps_its_link(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    url = hook(running)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    photo = reseller.add_media("p.png", "image/png", png)
    call = reseller.call(
        "uk-y", "사진 보냅니다", kind="photo", attachment={"url": photo, "name": "영수증.png"}
    )
    assert [await reseller.post(url, call) for _ in range(3)] == [200, 200, 200]
    chat = await the_chat(running)
    [message] = await running.messages(chat["id"])
    assert message["text"] == "사진 보냅니다"
    assert [(f["filename"], f["content_type"], f["size"]) for f in message["attachments"]] == [
        ("영수증.png", "image/png", len(png))
    ]
    async with running.session.get(
        f"{running.url}/api/v1/attachments/{message['attachments'][0]['id']}"
    ) as resp:
        assert await resp.read() == png

    gone = f"{reseller.url}/media/expired.pdf"
    call = reseller.call("uk-y", "", kind="file", attachment={"url": gone, "name": "계약서.pdf"})
    assert await reseller.post(url, call) == 200
    await running.wait_for(lambda: _count(running, chat["id"], 2))
    latest = (await running.messages(chat["id"]))[-1]
    assert latest["attachments"] == []
    assert latest["text"] == f"File 계약서.pdf (not downloaded: HTTP 404): {gone}"


async def test_a_reply_with_a_link_button_goes_as_a_link_message(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    assert await reseller.customer_says(hook(running), "uk-z", "주문 조회") == 200
    chat = await the_chat(running)
    button = {"text": "주문 보기", "url": "https://shop.example/orders/1", "colour": "blue"}
    await running.api(
        "POST", f"/chats/{chat['id']}/messages", json={"text": "여기서 확인하세요", "buttons": [button]}
    )
    await running.wait_for(lambda: len(reseller.sent) == 1)
    sent = reseller.sent[0]
    assert sent.message_type == "LI"
    assert sent.body["links"] == [
        {
            "name": "주문 보기",
            "type": "WL",
            "url_mobile": "https://shop.example/orders/1",
            "url_pc": "https://shop.example/orders/1",
        }
    ]


async def test_record_charge_writes_once_even_when_called_concurrently(running: RunningBridge) -> None:
    """``BridgeAPI.record_charge``: once per integration and description, whatever the race
    (PostgreSQL serialises on an advisory lock; SQLite has one writer)."""
    charge = Charge(80, "social_media", "Kakao consultation talk: customer 7, a window")
    written = await asyncio.gather(*(running.bridge.record_charge("consult", charge) for _ in range(8)))
    assert sorted(written) == [False] * 7 + [True]
    assert await ledger(running) == [(80, "social_media", charge.description)]
    other = Charge(80, "social_media", "Kakao consultation talk: customer 8, a window")
    assert await running.bridge.record_charge("consult", other) is True


async def test_when_the_customer_leaves_replies_are_refused_until_they_write_again(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    url = hook(running)
    assert await reseller.customer_says(url, "uk-leave", "문의합니다") == 200
    chat = await the_chat(running)
    assert await reseller.post(url, reseller.call("uk-leave", "", kind="leave")) == 200
    status, answer = await refused_reply(running, chat["id"], "답변드립니다")
    assert (status, answer["code"]) == (409, "kakao_session_ended"), answer
    # A reply with a file is refused the same way, before the file is kept.
    form = aiohttp.FormData()
    form.add_field("payload", json.dumps({"text": "파일 첨부"}), content_type="application/json")
    form.add_field("files", b"%PDF-1.4", filename="a.pdf", content_type="application/pdf")
    async with running.session.post(f"{running.url}/api/v1/chats/{chat['id']}/messages", data=form) as resp:
        assert resp.status == 409
        assert (await resp.json())["code"] == "kakao_session_ended"
    assert len(await running.messages(chat["id"])) == 1
    assert reseller.writes == []


async def test_a_session_the_reseller_says_is_over_fails_the_send_with_kakaos_reason(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    """Kakao ended the session without telling bridgekit: the reseller's refusal (-1010)
    fails the reply with its reason, and the next reply is refused before it is stored."""
    assert await reseller.customer_says(hook(running), "uk-gone", "안녕하세요") == 200
    chat = await the_chat(running)
    reseller.sessions["uk-gone"].ended = True
    reply = await running.reply(chat["id"], "답변입니다")

    async def failed() -> dict[str, Any] | None:
        found = next(m for m in await running.messages(chat["id"]) if m["id"] == reply["id"])
        return found if found["delivery_status"] == "failed" else None

    message = await running.wait_for(failed)
    assert "NoSessionException" in message["delivery_error"]
    assert "session is over" in message["delivery_error"]
    assert reseller.sent == []
    status, answer = await refused_reply(running, chat["id"], "다시 답변")
    assert (status, answer["code"]) == (409, "kakao_session_ended"), answer


async def test_a_plugin_send_after_expiry_fails_at_delivery_and_reaches_nobody(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    """A send that did not come through the reply API (a plugin's, a bot's) is held to the
    same rule when it is delivered."""
    long_ago = int((datetime.now(UTC) - timedelta(days=40)).timestamp() * 1000)
    assert await reseller.customer_says(hook(running), "uk-old", "예전 문의", at_ms=long_ago) == 200
    chat = await the_chat(running)
    message_id = await running.bridge.send_to_customer(
        chat["customer_id"], "consult", "안내드립니다", idempotency_key="late-1", author_name="Bot"
    )

    async def failed() -> dict[str, Any] | None:
        found = next(m for m in await running.messages(chat["id"]) if m["id"] == message_id)
        return found if found["delivery_status"] == "failed" else None

    message = await running.wait_for(failed)
    assert "expired 30 days after" in message["delivery_error"]
    assert reseller.writes == []


async def test_a_bug_in_the_session_check_is_counted_and_the_reply_goes_ahead(
    make_bridge: MakeBridge, reseller: ConsultSandbox
) -> None:
    """Only a RequestRefused refuses; any other exception from ``bridgekit_check_reply`` is
    the plugin's bug: logged, counted in /metrics, and the reply is stored and sent."""
    plugin = KakaoPlugin()
    original = plugin.bridgekit_check_reply

    @functools.wraps(original)
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("simulated bug in the session check")

    plugin.bridgekit_check_reply = bridgekit.hookimpl(broken)  # type: ignore[method-assign]
    running = await make_bridge(plugins={"kakao": plugin}, integrations={"consult": integration(reseller)})
    try:
        assert await reseller.customer_says(hook(running), "uk-bug", "안녕하세요") == 200
        chat = await the_chat(running)
        await running.reply(chat["id"], "답변")
        await running.wait_for(lambda: [m.text for m in reseller.sent] == ["답변"])
        metrics = await (await running.session.get(f"{running.url}/metrics")).text()
        assert 'bridgekit_plugin_errors_total{hook="bridgekit_check_reply",plugin="kakao"} 1' in metrics
    finally:
        await plugin.aclose()


async def test_the_address_the_banner_prints_is_where_the_reseller_posts(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    bound = running.bridge.registry.get("consult")
    address = await running.bridge.hooks.call_owner(
        "bridgekit_inbound_address", bound.channel.plugin, integration=bound.integration, base_url=running.url
    )
    method, url = address.split(" ", 1)
    assert method == "POST"
    assert reseller.webhook_token in url
    body = reseller.call("uk-banner", "배너 주소로 왔어요")
    async with reseller.client().post(url, json=body) as resp:  # the token is in the URL itself
        assert resp.status == 200
    chat = await the_chat(running)
    assert [m["text"] for m in await running.messages(chat["id"])] == ["배너 주소로 왔어요"]


async def test_a_reply_with_a_photo_and_a_file_goes_as_three_messages_kakao_can_fetch(
    running: RunningBridge, reseller: ConsultSandbox
) -> None:
    assert await reseller.customer_says(hook(running), "uk-files", "견적서 보내주세요") == 200
    chat = await the_chat(running)
    png = b"\x89PNG\r\n\x1a\n" + b"\1" * 32
    files = [("map.png", "image/png", png), ("견적서.pdf", "application/pdf", b"%PDF-1.4 quote")]
    await running.reply(chat["id"], "첨부드립니다", files=files)
    await running.wait_for(lambda: len(reseller.sent) == 3)
    kinds = [m.message_type for m in reseller.sent]
    assert kinds == ["TX", "IM", "FI"]
    assert len({m.serial_number for m in reseller.sent}) == 3
    image, document = reseller.sent[1].body, reseller.sent[2].body
    assert (document["file_name"], document["file_size"]) == ("견적서.pdf", len(b"%PDF-1.4 quote"))
    # Kakao fetches them from bridgekit's signed media URLs.
    async with reseller.client().get(image["image_url"]) as resp:
        assert await resp.read() == png
    async with reseller.client().get(document["file_url"]) as resp:
        assert await resp.read() == b"%PDF-1.4 quote"


def test_every_profile_a_setting_accepts_has_a_wire_and_another_is_refused_naming_them() -> None:
    from typing import get_args

    from bridgekit.exceptions import ConfigError
    from bridgekit.model import Integration

    from bridgekit_kakao.consult_profiles import PROFILES
    from bridgekit_kakao.consult_wire import ConsultSettings, ProfileName

    assert set(PROFILES) == set(get_args(ProfileName))
    settings = {"profile": "acme_v2", "client_id": "c", "sender_key": "k" * 40}
    secrets = {"client_secret": "s", "webhook_token": "t" * 16}
    refusal = "setting 'profile': invalid enum value 'acme_v2': must be one of 'happytalk_v1'"
    with pytest.raises(ConfigError, match=refusal):
        ConsultSettings.from_integration(Integration(1, "consult", "kakao_consult", settings, secrets))
