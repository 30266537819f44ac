"""The provider HTTP session, and size-capped media download.

:class:`ProviderSession` is the one ``aiohttp.ClientSession`` a plugin instance uses for its
provider's API: created on first use, with a default timeout, re-created when the running
event loop changed (a session is bound to its loop; tests and restarts start new loops), and
closed by the plugin's ``aclose`` / ``bridgekit_shutdown``.

:func:`fetch_media` downloads a provider's media URL (an image a customer sent) into bytes,
refusing anything over a byte cap *before* reading it all: a ``Content-Length`` over the cap
is refused without reading the body, and a body without one is cut off at the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bridgekit.channelkit.errors import NotSent
from bridgekit.exceptions import TransientDeliveryError

#: Read size while streaming a download.
_CHUNK_BYTES = 64 * 1024
#: How much of a failed download's body is kept for the plugin's error message.
_ERROR_BODY_BYTES = 4096


class ProviderSession:
    """A lazily created ``aiohttp.ClientSession`` with a default total timeout.

    ::

        self._http = ProviderSession(timeout=30)
        async with self._http.get().post(url, json=body) as resp: ...
        await self._http.aclose()  # in aclose / bridgekit_shutdown
    """

    def __init__(self, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        """The open session for the running event loop (call from a coroutine)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the session; the next :meth:`get` opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._loop = None


@contextlib.contextmanager
def transport_errors(what: str, timeout: float | None) -> Iterator[None]:
    """Turn a provider call that got no answer into a delivery error naming ``what``.

    Wrap the request (``with transport_errors("Acme API", 10): async with session.post(...)``):
    a timeout becomes :class:`TransientDeliveryError` ("Acme API timed out after 10 s"), a
    connection that could not be opened :class:`~bridgekit.channelkit.errors.NotSent`, any
    other aiohttp failure :class:`TransientDeliveryError` ("Acme API unreachable: ...").
    Delivery errors raised inside the block pass through unchanged.
    """
    try:
        yield
    except TimeoutError as exc:  # aiohttp's ClientTimeout raises asyncio.TimeoutError == TimeoutError
        after = f" after {timeout:g} s" if timeout else ""
        raise TransientDeliveryError(f"{what} timed out{after}") from exc
    except aiohttp.ClientConnectorError as exc:
        raise NotSent(f"{what} unreachable: {exc}") from exc
    except aiohttp.ClientError as exc:
        raise TransientDeliveryError(f"{what} unreachable: {exc}") from exc


class MediaUnavailable(Exception):
    """A media download failed; ``str()`` is the reason, ready for a message's note.

    ``status`` and ``body`` (its first 4 KB) are set when the server answered with a
    non-200 status, so a plugin can word the provider's own error.
    """

    def __init__(self, reason: str, *, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(reason)
        self.status = status
        self.body = body


class MediaTooLarge(MediaUnavailable):
    """The media is over the byte cap (announced by ``Content-Length`` or counted)."""


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """A downloaded media file: its bytes and the ``Content-Type`` the server gave."""

    data: bytes
    content_type: str
    """Without parameters; ``""`` when the server sent none."""


async def fetch_media(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> FetchedMedia:
    """GET ``url`` (http or https) within ``timeout`` seconds, at most ``max_bytes`` long.

    Raises :class:`MediaTooLarge` over the cap, :class:`MediaUnavailable` for a non-200
    answer, a timeout, a connection failure or a URL that is not http(s).
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise MediaUnavailable("not an http(s) URL")
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                body = await resp.content.read(_ERROR_BODY_BYTES)
                raise MediaUnavailable(f"HTTP {resp.status}", status=resp.status, body=body)
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise MediaTooLarge(f"{resp.content_length} bytes is over the limit of {max_bytes}")
            data = bytearray()
            async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
                data += chunk
                if len(data) > max_bytes:
                    raise MediaTooLarge(f"over the limit of {max_bytes} bytes")
            content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            return FetchedMedia(bytes(data), content_type)
    except TimeoutError:  # aiohttp's ClientTimeout raises asyncio.TimeoutError == TimeoutError
        raise MediaUnavailable(f"timed out after {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise MediaUnavailable(str(exc) or type(exc).__name__) from None
