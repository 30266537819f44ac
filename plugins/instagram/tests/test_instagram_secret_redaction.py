"""No secret in errors (issue 12 item 4): with ``auth = "query"`` the access token and
appsecret_proof travel in the URL; when a call fails, neither may reach the stored errors
(``outbox.last_error``, ``messages.delivery_error``), the API or the logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import pytest
from bridgekit_instagram.plugin import InstagramPlugin
from bridgekit_instagram.sandbox import MetaSandbox
from ig_helpers import secrets_for, settings_for
from sqlalchemy import select

from bridgekit.storage import schema as s


@pytest.mark.parametrize("failure", ["garbled", "token_echoed"])
async def test_failed_sends_in_query_auth_mode_show_no_token_anywhere(
    make_bridge: Any, meta: MetaSandbox, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    caplog.set_level(logging.INFO)
    running = await make_bridge(
        plugins={"instagram": InstagramPlugin()},
        integrations={
            "acme": {
                "channel": "instagram",
                "settings": settings_for(meta, auth="query", appsecret_proof=True),
                "secrets": secrets_for(meta),
            }
        },
    )
    proof = hmac.new(meta.app_secret.encode(), meta.access_token.encode(), hashlib.sha256).hexdigest()
    if failure == "garbled":
        # a broken proxy in front of Meta: the HTTP client's error names the whole URL
        meta.fail_next("garbled", endpoint="profile")
        meta.fail_next("garbled", times=10)
    else:
        # an answer that quotes the token back
        meta.fail_next("error", code=190, message=f"Invalid OAuth access token {meta.access_token}")

    meta.add_profile("U1", name="Minji")
    assert (await meta.deliver(f"{running.url}/hooks/acme", meta.text_event("U1", "hello"))).status == 200
    (chat,) = await running.wait_for(running.chats)
    await running.reply(chat["id"], "we are on it")

    async def failed() -> dict[str, Any] | None:
        out = [m for m in await running.messages(chat["id"]) if m["direction"] == "outbound"]
        return out[0] if out and out[0]["delivery_status"] == "failed" else None

    reply = await running.wait_for(failed, timeout=20)
    assert meta.send_requests  # the token did go out in the query, as Meta wants it
    assert meta.send_requests[0]["query"]["access_token"] == meta.access_token

    async with running.bridge.db.read() as conn:
        last_error = (await conn.execute(select(s.outbox.c.last_error))).scalar_one()
        delivery_error = (
            await conn.execute(select(s.messages.c.delivery_error).where(s.messages.c.id == reply["id"]))
        ).scalar_one()
    api_messages = await running.messages(chat["id"])
    api_answer = json.dumps(api_messages)
    # the reason stays useful to the manager...
    assert "[redacted]" in delivery_error
    assert ("unreachable" if failure == "garbled" else "Invalid OAuth access token") in delivery_error
    assert [m["delivery_error"] for m in api_messages if m["id"] == reply["id"]] == [delivery_error]
    # ...and nothing secret is anywhere
    for secret in (meta.access_token, proof, meta.app_secret):
        assert secret not in last_error
        assert secret not in delivery_error
        assert secret not in api_answer
        assert secret not in caplog.text
    if failure == "garbled":
        assert "instagram profile look-up for U1 failed" in caplog.text  # the log line is there
