"""The ``X-Line-Signature`` webhook signature.

LINE signs every webhook request: the header carries
``base64(HMAC-SHA256(key=channel secret, msg=raw request body))``
(https://developers.line.biz/en/docs/messaging-api/verify-webhook-signature/). It is checked
over the raw bytes exactly as received, before anything is parsed, and compared in constant
time so the comparison leaks nothing about the expected value.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from bridgekit.exceptions import SignatureError

SIGNATURE_HEADER = "x-line-signature"


@functools.lru_cache(maxsize=64)
def _keyed(channel_secret: str) -> hmac.HMAC:
    """HMAC-SHA256 with the channel secret already fed in, once per secret: copying it costs
    less than ``hmac.new`` feeding the key in again for every webhook."""
    return hmac.new(channel_secret.encode("utf-8"), digestmod=hashlib.sha256)


def sign(channel_secret: str, body: bytes) -> str:
    """Return the signature LINE would send for ``body`` (also used by the sandbox)."""
    mac = _keyed(channel_secret).copy()
    mac.update(body)
    return base64.b64encode(mac.digest()).decode("ascii")


def verify(channel_secret: str, body: bytes, signature: str | None) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is LINE's signature of ``body``."""
    if not signature:
        raise SignatureError("missing X-Line-Signature header")
    expected = sign(channel_secret, body).encode("ascii")
    # compare_digest needs equal types; a non-ASCII header can never be a valid signature.
    try:
        given = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError("X-Line-Signature does not match the request body") from None
    if not hmac.compare_digest(expected, given):
        raise SignatureError("X-Line-Signature does not match the request body")
