"""A message sent as several provider messages resumes after the last part that went out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridgekit.channelkit import PARTS_SENT, parse_retry_after, send_parts, status_error
from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import Contact, OutboundMessage
from bridgekit.testing.progress import KeptProgress

Server = Callable[..., Awaitable[TestServer]]


class Provider:
    """A messenger API that accepts one text per call and can fail the next call."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.fail_with: list[int] = []  # statuses to answer the next calls with

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/send", self.send)
        return app

    async def send(self, request: web.Request) -> web.Response:
        if self.fail_with:
            return web.json_response(
                {"error": "busy"}, status=self.fail_with.pop(0), headers={"Retry-After": "4"}
            )
        self.received.append((await request.json())["text"])
        return web.json_response({"id": f"m{len(self.received)}"})


@pytest.fixture
async def provider(aiohttp_server: Server) -> tuple[Provider, str]:
    fake = Provider()
    server = await aiohttp_server(fake.app())
    return fake, str(server.make_url("/send"))


def message() -> OutboundMessage:
    return OutboundMessage(
        message_id=1, chat_id=1, idempotency_key="k", recipient=Contact("x", "u"), thread_key="u", text=""
    )


def sender(session: aiohttp.ClientSession, url: str) -> Callable[[str], Awaitable[str | None]]:
    async def send(text: str) -> str | None:
        async with session.post(url, json={"text": text}) as resp:
            if resp.status != 200:
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                raise status_error(resp.status, f"HTTP {resp.status}", retry_after=retry_after)
            return str((await resp.json())["id"])

    return send


async def test_a_retry_sends_only_the_parts_that_did_not_go_out(provider: tuple[Provider, str]) -> None:
    fake, url = provider
    row = KeptProgress()
    parts = ["one", "two", "three", "four"]
    async with aiohttp.ClientSession() as session:
        send = sender(session, url)
        await row.save({"note": "saved by the plugin earlier"})

        async def third_fails(text: str) -> str | None:
            if text == "three" and len(fake.received) == 2:
                fake.fail_with.append(503)
            return await send(text)

        with pytest.raises(
            TransientDeliveryError, match=r"HTTP 503 \(2 of 4 parts had been sent\)"
        ) as caught:
            await send_parts(row.attempt(message()), parts, third_fails)
        assert caught.value.retry_after == 4.0  # the provider's delay survives the wrapping
        assert row.progress == {"note": "saved by the plugin earlier", PARTS_SENT: ["m1", "m2"]}

        ids = await send_parts(row.attempt(message()), parts, send)  # the outbox's next attempt
    assert fake.received == parts  # each part exactly once
    assert ids == ["m1", "m2", "m3", "m4"]
    assert row.progress[PARTS_SENT] == ids


async def test_a_permanent_failure_after_some_parts_says_how_far_it_got(
    provider: tuple[Provider, str],
) -> None:
    fake, url = provider
    row = KeptProgress()
    async with aiohttp.ClientSession() as session:
        send = sender(session, url)
        fake.fail_with = [503]  # the very first call: nothing went out, the error is untouched
        with pytest.raises(TransientDeliveryError, match=r"^HTTP 503$"):
            await send_parts(row.attempt(message()), ["a", "b"], send)
        assert row.progress == {}
        await send_parts(row.attempt(message()), ["a"], send)
        assert fake.received == ["a"]

        row = KeptProgress()
        fake.received.clear()

        async def second_refused(text: str) -> str | None:
            if text == "b":
                fake.fail_with.append(400)
            return await send(text)

        with pytest.raises(PermanentDeliveryError, match=r"HTTP 400 \(1 of 2 parts had been sent\)"):
            await send_parts(row.attempt(message()), ["a", "b"], second_refused)
    assert fake.received == ["a"]
