"""Reading request bodies within a size cap and a deadline (``[limits]`` in the configuration).

A body larger than its cap is refused from ``Content-Length`` before a byte of it is read,
and counted while it streams when there is none (chunked); a body that does not arrive whole
within ``body_timeout`` answers 408. Both close the connection: what is left of the body is
never read.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bridgekit.config import LimitsConfig
from bridgekit.web.jsonio import json_error
from bridgekit.web.keys import BRIDGE


def body_error(
    status: int, message: str, *, code: str | None = None, details: dict[str, int] | None = None
) -> web.HTTPException:
    """A JSON error that also closes the connection (its unread body cannot be skipped)."""
    exc = json_error(status, message, code=code, details=details)
    exc.force_close()
    return exc


def too_large(limit: int) -> web.HTTPException:
    return body_error(
        413,
        f"the body is larger than the limit of {limit} bytes",
        code="body_too_large",
        details={"limit": limit},
    )


def refuse_by_length(request: web.Request, limit: int) -> None:
    """413 at once when the declared ``Content-Length`` is over ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)


def _body_timeout(request: web.Request) -> float:
    bridge = request.app.get(BRIDGE)  # apps built without a bridge (tests) get the default
    return (bridge.config.limits if bridge is not None else LimitsConfig()).body_timeout


def _timed_out(timeout: float) -> web.HTTPException:
    return body_error(408, f"the body did not arrive within {timeout:g} seconds")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes, within the body timeout."""
    length = request.content_length  # parsed from the headers at every access: read once
    if length is not None and length > limit:
        raise too_large(limit)
    if length is not None and request.content.is_eof():
        # Arrived whole with the head (most webhooks): nothing to wait for, so no timer. In
        # Python 3.11 asyncio.timeout costs two getpid() system calls a request.
        return await request.read()
    timeout = _body_timeout(request)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.readany():
                body.extend(chunk)
                if len(body) > limit:
                    raise too_large(limit)
    except TimeoutError:
        raise _timed_out(timeout) from None
    return bytes(body)


async def buffer_body(request: web.Request) -> None:
    """Read the body into ``request`` (``request.json()`` then answers from memory) within the
    app's ``client_max_size`` and the body timeout."""
    refuse_by_length(request, request.client_max_size)
    if request.content_length is not None and request.content.is_eof():
        await request.read()  # arrived whole: no timer (see read_body)
        return
    timeout = _body_timeout(request)
    try:
        async with asyncio.timeout(timeout):
            await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(request.client_max_size) from None
    except TimeoutError:
        raise _timed_out(timeout) from None
