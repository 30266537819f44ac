"""A reply through LINE's reply API reaches the customer exactly once, also when LINE answers
after the timeout or the process dies mid-send (issue 12, item 14).

The reply API has no retry key, and LINE answers "Invalid reply token" both for a used and an
expired token. The plugin records the token before using it; an attempt with an unknown
outcome is retried with the same token, never pushed; "invalid" while the token is surely
unexpired means the earlier attempt delivered it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from bridgekit_line.plugin import LinePlugin
from bridgekit_line.sandbox import LineSandbox

from bridgekit.config import Config
from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import Contact, Integration, OutboundMessage
from bridgekit.testing.harness import TEST_OUTBOX, RunningBridge
from bridgekit.testing.progress import KeptProgress

TRIALS = 4
MakeBridge = Callable[..., Awaitable[RunningBridge]]


async def _start(
    make_bridge: MakeBridge, line: LineSandbox, plugin: LinePlugin, timeout: float = 0.3
) -> RunningBridge:
    return await make_bridge(
        plugins={"line": plugin},
        integrations={
            "acme": {
                "channel": "line",
                # LINE's real timeout is 10 s; a short one keeps the trials quick.
                "settings": line.integration_settings(request_timeout=timeout),
                "secrets": line.integration_secrets(),
            }
        },
        config=Config(outbox=TEST_OUTBOX),
    )


async def _customer_writes_and_manager_answers(
    running: RunningBridge, line: LineSandbox, name: str, answer: str
) -> tuple[str, int, int]:
    user = line.add_user(name)
    response = await line.webhooks.post(f"{running.url}/hooks/acme", [line.webhooks.text(user, "hello?")])
    assert response.status == 200

    async def chat() -> Any:
        found = [c for c in await running.chats() if c.get("title") == name or c.get("customer_name") == name]
        return found[0] if found else None

    chat_id = (await running.wait_for(chat))["id"]
    reply = await running.reply(chat_id, answer)
    return user, chat_id, int(reply["id"])


async def _status(running: RunningBridge, chat_id: int, message_id: int) -> str:
    (message,) = [m for m in await running.messages(chat_id) if m["id"] == message_id]
    return str(message["delivery_status"])


async def _delivered(running: RunningBridge, chat_id: int, message_id: int) -> None:
    async def sent() -> bool:
        return await _status(running, chat_id, message_id) == "sent"

    await running.wait_for(sent, timeout=15)


@pytest.mark.parametrize("late", ["response", "acceptance"])
async def test_a_reply_answered_after_the_timeout_reaches_the_customer_once(
    make_bridge: MakeBridge, late: str
) -> None:
    """``response``: LINE sent it but the answer came too late. ``acceptance``: LINE was slow
    to process it and the retry came first. Either way: one message per trial."""
    async with LineSandbox() as line:
        plugin = LinePlugin()
        running = await _start(make_bridge, line, plugin)
        try:
            for trial in range(TRIALS):
                line.delay_next(1.0, endpoint="reply", after_accept=late == "response")
                user, chat_id, message_id = await _customer_writes_and_manager_answers(
                    running, line, f"Customer {trial}", f"answer {trial}"
                )
                await _delivered(running, chat_id, message_id)
                await asyncio.sleep(1.2)  # a late duplicate would arrive by now
                assert [(m.via, m.text) for m in line.messages_to(user)] == [("reply", f"answer {trial}")]
                assert await _status(running, chat_id, message_id) == "sent"
        finally:
            await plugin.aclose()


async def test_a_process_dying_mid_reply_sends_the_reply_once(make_bridge: MakeBridge) -> None:
    """LINE accepted the reply, then the process died before it heard back. The next process
    reclaims the lease and retries with the same token: "invalid" means already delivered."""
    async with LineSandbox() as line:
        plugins = [LinePlugin()]
        running = await _start(make_bridge, line, plugins[-1], timeout=10.0)
        try:
            for trial in range(TRIALS):
                # LINE's answer is on its way when the process dies (well within the timeout).
                line.delay_next(2.0, endpoint="reply", after_accept=True)
                user, chat_id, message_id = await _customer_writes_and_manager_answers(
                    running, line, f"Customer {trial}", f"answer {trial}"
                )
                await running.wait_for(lambda user=user: line.messages_to(user))
                assert running.bridge.outbox is not None
                await running.bridge.outbox.stop()  # the process dies with the reply in flight
                plugins.append(LinePlugin())
                running = await _start(make_bridge, line, plugins[-1], timeout=10.0)  # restarted
                await _delivered(running, chat_id, message_id)
                await asyncio.sleep(0.3)
                assert [(m.via, m.text) for m in line.messages_to(user)] == [("reply", f"answer {trial}")]
        finally:
            for plugin in plugins:
                await plugin.aclose()


async def test_a_second_answer_never_takes_the_token_of_an_interrupted_first_one(
    make_bridge: MakeBridge,
) -> None:
    """LINE answered 500 to the first answer's reply (outcome unknown); the server restarts
    with a second answer to the same customer message queued. The second must not use the
    token (the first's retry would then read "invalid" as delivered and lose it): it pushes,
    and the customer gets both answers once."""
    async with LineSandbox() as line:
        plugins = [LinePlugin()]
        running = await _start(make_bridge, line, plugins[-1])
        try:
            line.fail_next(500, endpoint="reply", retry_after=1)
            user, chat_id, first_id = await _customer_writes_and_manager_answers(
                running, line, "Mina", "first answer"
            )
            await running.wait_for(lambda: [r for r in line.requests if r.path.endswith("/reply")])
            assert running.bridge.outbox is not None
            await running.bridge.outbox.stop()
            second_id = int((await running.reply(chat_id, "second answer"))["id"])
            plugins.append(LinePlugin())
            running = await _start(make_bridge, line, plugins[-1])  # a new process: nothing in memory
            await _delivered(running, chat_id, first_id)
            await _delivered(running, chat_id, second_id)
            await asyncio.sleep(0.3)
            assert sorted((m.via, m.text) for m in line.messages_to(user)) == [
                ("push", "second answer"),
                ("reply", "first answer"),
            ]
        finally:
            for plugin in plugins:
                await plugin.aclose()


# --- the plugin's decisions, with a settable clock ----------------------------------------------


def _message(user: str, meta: Mapping[str, Any], attempt: int) -> OutboundMessage:
    return OutboundMessage(
        message_id=1,
        chat_id=1,
        idempotency_key="outbox-key-1",
        recipient=Contact("line", user),
        thread_key=user,
        text="It left the warehouse today.",
        reply_context=dict(meta),
        attempt=attempt,
    )


async def _inbound_meta(line: LineSandbox, plugin: LinePlugin, integration: Integration, user: str) -> Any:
    event = line.webhooks.text(user, "Is my parcel shipped?")
    return (await plugin.bridgekit_ingest(integration, line.webhooks.delivery([event]))).messages[0].meta


async def test_an_unknown_outcome_with_an_expired_token_fails_clearly_instead_of_pushing(
    line: LineSandbox, plugin: LinePlugin, make_integration: Callable[..., Integration], clock: Any
) -> None:
    """Whether the interrupted reply went out cannot be known once the token expired:
    pushing could send it twice, so the message fails and says why."""
    integration = make_integration(request_timeout=0.2)
    user = line.add_user("Mina")
    meta = await _inbound_meta(line, plugin, integration, user)
    store = KeptProgress()
    line.delay_next(1.0, endpoint="reply", after_accept=True)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        await plugin.bridgekit_deliver(integration, store.attempt(_message(user, meta, attempt=1)))
    assert store.progress["reply_token"] == meta["reply_token"]  # recorded before the call
    clock.advance(70)  # e.g. the server was down for a while
    with pytest.raises(PermanentDeliveryError, match="not pushed to avoid a duplicate"):
        await plugin.bridgekit_deliver(integration, store.attempt(_message(user, meta, attempt=2)))
    assert [m.via for m in line.sent] == ["reply"]


async def test_a_refused_token_switches_the_message_to_push_for_good(
    line: LineSandbox, plugin: LinePlugin, make_integration: Callable[..., Integration], clock: Any
) -> None:
    """LINE refused the token (nothing sent), then the push's answer was lost: the retry
    pushes with the same retry key instead of reading "invalid token" as delivered."""
    integration = make_integration(request_timeout=0.2)
    line.reply_token_ttl = 5
    user = line.add_user("Mina")
    meta = await _inbound_meta(line, plugin, integration, user)
    clock.advance(10)
    store = KeptProgress()
    line.delay_next(1.0, endpoint="push", after_accept=True)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        await plugin.bridgekit_deliver(integration, store.attempt(_message(user, meta, attempt=1)))
    assert store.progress == {"via": "push"}
    result = await plugin.bridgekit_deliver(integration, store.attempt(_message(user, meta, attempt=2)))
    assert [(m.via, m.text) for m in line.sent] == [("push", "It left the warehouse today.")]
    assert result.meta["accepted_request_ids"] == [line.sent[0].request_id]
