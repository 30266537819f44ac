"""The one merge of two customers (``BridgeAPI.merge_customers``, K5) on both databases: a
handle both hold stays once, verified if either had it verified, and the chats that talked
through the dropped contact talk through the kept one; the merged customer is gone from the
API; the lead flag and the profile follow the documented rules; bad calls are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bridgekit.exceptions import RequestRefused
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.testing.harness import RunningBridge
from tests.conftest import integration
from tests.inbox.messages_helpers import customer_writes, rows
from tests.support.testchannel import TestChannelPlugin


@pytest.fixture
async def running(make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin) -> RunningBridge:
    started: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    return started


async def customer_of(running: RunningBridge, chat_id: int) -> int:
    (chat,) = await rows(running, s.chats, s.chats.c.id == chat_id)
    return int(chat.customer_id)


async def unverified(running: RunningBridge, customer_id: int, kind: str, value: str) -> int:
    """A handle typed in somewhere (a form): not verified, so it may sit on several customers."""
    async with running.bridge.db.write() as conn:
        return int(
            (
                await conn.execute(
                    s.contacts.insert()
                    .values(
                        customer_id=customer_id,
                        kind=kind,
                        scope=0,
                        value=value,
                        verified=False,
                        created_at=utcnow(),
                    )
                    .returning(s.contacts.c.id)
                )
            ).scalar_one()
        )


async def test_shared_handles_stay_once_and_verified_and_the_chats_follow(running: RunningBridge) -> None:
    bridge = running.bridge
    keep_chat = await customer_writes(running, user="u-keep", text="I am the member")
    gone_chat = await customer_writes(running, user="u-lead", text="I am the lead")
    keep, gone = await customer_of(running, keep_chat), await customer_of(running, gone_chat)
    await running.api("PATCH", f"/customers/{keep}", json={"name": "Kim", "profile": {"plan": "gold"}})
    await running.api("PATCH", f"/customers/{gone}", json={"profile": {"plan": "free", "size": "95"}})
    assert await bridge.add_handle("email", "kim@example.com", customer_id=keep) == keep
    await unverified(running, gone, "email", "kim@example.com")
    assert await bridge.add_handle("phone", "+821012345678", customer_id=gone) == gone
    typed_phone = await unverified(running, keep, "phone", "+821012345678")
    # The lead's chat talks through its (verified) phone contact.
    (gone_phone,) = await rows(
        running, s.contacts, s.contacts.c.customer_id == gone, s.contacts.c.kind == "phone"
    )
    async with bridge.db.write() as conn:
        await conn.execute(update(s.chats).where(s.chats.c.id == gone_chat).values(contact_id=gone_phone.id))

    await bridge.merge_customers(keep, gone)

    panel = await running.api("GET", f"/customers/{keep}")
    handles = {(c["kind"], c["value"]): c["verified"] for c in panel["customer"]["contacts"]}
    assert handles == {
        ("testchat", "u-keep"): True,
        ("testchat", "u-lead"): True,
        ("email", "kim@example.com"): True,
        ("phone", "+821012345678"): True,  # the kept contact, verified because the lead's was
    }
    assert {c["id"] for c in panel["chats"]} == {keep_chat, gone_chat}
    (moved,) = await rows(running, s.chats, s.chats.c.id == gone_chat)
    assert moved.contact_id == typed_phone
    assert panel["customer"]["name"] == "Kim"
    assert panel["customer"]["profile"] == {"plan": "gold", "size": "95"}
    assert panel["customer"]["is_lead"] is True  # both were leads
    async with running.session.get(f"{running.url}/api/v1/customers/{gone}") as resp:
        assert resp.status == 404
    texts = [m["text"] for m in await running.messages(gone_chat)]
    assert texts == ["I am the lead"]
    # The lead's user writes again: the same chat, on the kept customer.
    assert await customer_writes(running, user="u-lead", text="again") == gone_chat
    assert await customer_of(running, gone_chat) == keep


async def test_a_member_stays_a_member_and_bad_merges_are_refused(running: RunningBridge) -> None:
    bridge = running.bridge
    member = await bridge.add_handle("member", "M-1", name="Lee", member=True)
    lead = await customer_of(running, await customer_writes(running, user="u-9"))
    await bridge.merge_customers(member, lead)
    assert (await running.api("GET", f"/customers/{member}"))["customer"]["is_lead"] is False
    with pytest.raises(RequestRefused) as same:
        await bridge.merge_customers(member, member)
    assert same.value.status == 409
    with pytest.raises(RequestRefused) as missing:
        await bridge.merge_customers(member, lead)  # merged already: gone
    assert missing.value.status == 404
    with pytest.raises(RequestRefused) as huge:
        await bridge.merge_customers(member, 2**40)
    assert huge.value.status == 404
