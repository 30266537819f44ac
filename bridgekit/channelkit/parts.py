"""Send a message that goes out as several provider messages, resuming where it stopped.

A long reply split into pieces, or a text plus images, is several provider calls. When call
3 of 5 fails transiently, the outbox tries the whole message again later, perhaps after a
restart and on another worker: the parts that went out must not go out twice. :func:`send_parts`
records each part's provider id in the message's durable progress (``message.save_progress``,
kept on the outbox row) right after the provider accepted it, and the next attempt skips what
is recorded. Nothing lives in the plugin's memory, so nothing leaks when the outbox gives up,
and a manual retry of a failed message (which starts with empty progress) sends everything.

The one gap a plugin cannot close without the provider's help: a crash between the provider
accepting a part and the progress being written sends that one part again on the next attempt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bridgekit.exceptions import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import OutboundMessage

P = TypeVar("P")

#: The key of ``message.progress`` this helper owns: the provider ids of the parts sent so far
#: (``""`` for a part the provider gave no id).
PARTS_SENT = "parts_sent"


def parts_sent(message: OutboundMessage) -> list[str]:
    """The provider ids of the parts earlier attempts of ``message`` recorded as sent."""
    recorded = message.progress.get(PARTS_SENT)
    return [str(item) for item in recorded] if isinstance(recorded, list) else []


async def send_parts(
    message: OutboundMessage,
    parts: Sequence[P],
    send: Callable[[P], Awaitable[str | None]],
) -> list[str]:
    """Send ``parts`` in order with ``send`` (returning the provider's id, or ``None``),
    skipping those an earlier attempt recorded. Returns every part's id (``""`` for none).

    A :class:`~bridgekit.exceptions.DeliveryError` from ``send`` is raised again, of the same
    kind and with the same ``retry_after``, its reason followed by how far the message got
    (" (2 of 5 parts had been sent)") when some parts had gone out. Other progress keys the
    plugin saved before calling this are kept.
    """
    done = parts_sent(message)
    try:
        for part in parts[len(done) :]:
            provider_id = await send(part)
            done.append(provider_id or "")
            await message.save_progress({**message.progress, PARTS_SENT: done})
    except DeliveryError as exc:
        if not done:
            raise
        note = f" ({len(done)} of {len(parts)} parts had been sent)"
        if isinstance(exc, TransientDeliveryError):
            raise TransientDeliveryError(exc.reason + note, retry_after=exc.retry_after) from exc
        raise PermanentDeliveryError(exc.reason + note) from exc
    return done
