"""Search (``q=``): customer name, contact values (email, phone) and message text,
case-insensitive, within the view being searched."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration, signed
from tests.inbox.views_helpers import customer_writes, operator_client, set_chat
from tests.support.testchannel import TestChannelPlugin


async def test_search_finds_chats_by_name_email_phone_and_message_text(make_bridge, sandbox_url: str) -> None:
    running: RunningBridge = await make_bridge(
        plugins={
            "testchat": TestChannelPlugin(),
            "phones": TestChannelPlugin("phones", contact_kind="phone"),
        },
        integrations={
            "acme": integration(sandbox_url, emails={"u-park": "Jiwoo.Park@Example.com"}),
            "sms": integration(sandbox_url, "phones"),
        },
    )
    me = await operator_client(running)
    await customer_writes(running, "acme", "u-park", "Where is my parcel?", name="Park Jiwoo")
    await customer_writes(running, "acme", "u-lee", "환불 요청합니다 (100% 확인)", name="Lee Minho")
    await customer_writes(running, "acme", "u-kim", "My REFUND please", name="Kim_Yuna")
    status, created = await me.call(
        "POST",
        "/chats",
        json={
            "integration": "sms",
            "text": "Your code",
            "contact": {"kind": "phone", "value": "+82 10-4321-8765"},
        },
    )
    assert status == 201, created
    phone_chat = created["chat_id"]
    by_user = {c["customer_name"]: c["id"] for c in (await me.page("state=any"))["chats"]}
    park, lee, kim = by_user["Park Jiwoo"], by_user["Lee Minho"], by_user["Kim_Yuna"]

    async def found(q: str, extra: str = "") -> set[int]:
        return set(await me.ids(f"q={quote(q)}{extra}"))

    assert await found("park") == {park}  # name, any case
    assert await found("JIWOO") == {park}
    assert await found("example.com") == {park}  # email contact
    assert await found("jiwoo.park@example.COM") == {park}
    assert await found("parcel") == {park}  # message text
    assert await found("refund") == {kim}
    assert await found("환불") == {lee}
    assert await found("4321") == {phone_chat}  # phone, digits only
    assert await found("010-4321-8765") == {phone_chat}  # as typed nationally
    assert await found("+82 10 4321 8765") == {phone_chat}
    assert await found("100%") == {lee}  # LIKE wildcards are literal
    assert await found("_") == {kim}
    assert await found("nobody") == set()
    assert await found("  ") == {park, lee, kim, phone_chat}  # blank q = no search

    await set_chat(running, kim, state="closed")
    assert await found("refund") == set()  # search stays within the view's state
    assert await found("refund", "&state=closed") == {kim}
    await set_chat(running, park, assignee_id=me.id)
    # The chat a manager started is theirs (E10); Park's is assigned now too.
    assert await found("e", "&view=mine") == {park, phone_chat}
    assert await found("park", "&view=unassigned") == set()


async def test_search_does_not_match_across_other_customers(make_bridge: Any, sandbox_url: str) -> None:
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    me = await operator_client(running)
    await customer_writes(running, "acme", "u-1", "first question", name="Alpha")
    await customer_writes(running, "acme", "u-2", "second question", name="Beta")
    (beta,) = [c["id"] for c in (await me.page())["chats"] if c["customer_name"] == "Beta"]
    assert set(await me.ids("q=beta")) == {beta}
    assert set(await me.ids("q=second")) == {beta}
    assert len(await me.ids("q=question")) == 2


async def test_search_matches_chat_titles(make_bridge: Any, sandbox_url: str) -> None:
    """An email chat's title is the mail's subject: searching for words of it finds the chat."""
    running: RunningBridge = await make_bridge(
        plugins={"testchat": TestChannelPlugin()}, integrations={"acme": integration(sandbox_url)}
    )
    me = await operator_client(running)
    body, headers = signed(
        {"id": "ev-1", "user": "u-1", "text": "hello", "name": "Alpha", "title": "[주문문의] Delivery Delay"},
        {"id": "ev-2", "user": "u-2", "text": "hello", "name": "Beta", "title": "Other"},
    )
    status, answer = await running.post_hook("acme", body, headers)
    assert status == 200, answer
    (alpha,) = [c["id"] for c in (await me.page())["chats"] if c["customer_name"] == "Alpha"]
    assert set(await me.ids(f"q={quote('주문문의')}")) == {alpha}
    assert set(await me.ids("q=delivery%20DELAY")) == {alpha}
