"""Who may reach the email channel from outside SMTP: forwarding a conversation to an outside
address needs the operator seat, and HTTP requests to the integration's webhook URL are
refused without keeping anything (mail arrives over SMTP only)."""

from __future__ import annotations

import aiohttp
from bridgekit_email_forward.sandbox import SmtpSink
from sqlalchemy import func, select
from test_email_forward_smtp import MakeBridge, load, send, start

from bridgekit.inbox.managers import create_manager
from bridgekit.storage import schema as s


async def test_only_an_operator_may_forward_a_conversation_outside(
    make_bridge: MakeBridge, relay: SmtpSink
) -> None:
    running, _plugin, port = await start(make_bridge, relay)
    await send(port, load("ko_outlook_ks_c_5601.eml"))
    (chat,) = await running.chats()
    _, token = await create_manager(running.bridge.db, running.bridge.workspace_id, "Viewer", operator=False)
    url = f"{running.url}/api/v1/email/chats/{chat['id']}/forward"

    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as viewer,
        viewer.post(url, json={"to": "someone@outside.example"}) as resp,
    ):
        assert resp.status == 403
        assert "operator" in (await resp.json())["error"]

    async with running.session.post(url, json={"to": "legal@partner.example"}) as resp:
        assert resp.status == 200  # the operator seat may
    [forwarded] = await relay.wait_for(1)
    assert forwarded.rcpt_tos == ["legal@partner.example"]  # and nothing went to the outsider


async def test_forwarding_a_chat_id_no_database_can_hold_is_a_404(
    make_bridge: MakeBridge, relay: SmtpSink
) -> None:
    """Found by tests/test_fuzz.py: an id past SQLite's 64-bit integers answered 500."""
    running, _plugin, _port = await start(make_bridge, relay)
    for chat_id in ("99999999999999999999999999", "2147483648", "0", "-1"):
        url = f"{running.url}/api/v1/email/chats/{chat_id}/forward"
        async with running.session.post(url, json={"to": "legal@partner.example"}) as resp:
            assert resp.status == 404, (chat_id, await resp.text())
    assert relay.received == []


async def test_http_requests_to_the_email_webhook_are_refused_and_nothing_is_kept(
    make_bridge: MakeBridge, relay: SmtpSink
) -> None:
    running, _plugin, _port = await start(make_bridge, relay)
    mail = load("ko_outlook_ks_c_5601.eml")
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.post(f"{running.url}/hooks/acme", data=mail) as resp:
            assert resp.status == 401
        async with anonymous.get(f"{running.url}/hooks/acme") as resp:
            assert resp.status == 401

    async with running.bridge.db.read() as conn:
        kept = (await conn.execute(select(func.count()).select_from(s.raw_deliveries))).scalar_one()
    assert kept == 0
    assert await running.chats() == []
