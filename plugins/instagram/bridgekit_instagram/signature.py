"""Meta's webhook authentication: the ``hub.challenge`` handshake and ``X-Hub-Signature-256``.

Meta signs the raw request body: ``sha256=`` + hex(HMAC-SHA256(app secret, body)). The body
is JSON with non-ASCII characters (and ``/``) escaped, so re-serialising a parsed payload
gives different bytes and a different signature: always verify the bytes as received,
before parsing. Comparisons are constant-time so a forger learns nothing from timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from bridgekit.exceptions import SignatureError

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta would send for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(app_secret: str, body: bytes, header: str | None) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with ``app_secret``."""
    if not app_secret:
        raise SignatureError("instagram integration has no 'app_secret' secret; cannot verify webhooks")
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    if not header.startswith(_PREFIX):
        raise SignatureError("X-Hub-Signature-256 is not a sha256= signature")
    expected = sign(app_secret, body)
    # compare as bytes: compare_digest refuses non-ASCII str, and a header is attacker input
    if not hmac.compare_digest(expected.encode(), header.strip().lower().encode("utf-8", "replace")):
        raise SignatureError("X-Hub-Signature-256 does not match the body")


def verify_handshake(verify_token: str, query: Mapping[str, str]) -> str:
    """Check Meta's subscription GET and return the ``hub.challenge`` to echo back verbatim."""
    if not verify_token:
        raise SignatureError("instagram integration has no 'verify_token' secret")
    if query.get("hub.mode") != "subscribe":
        raise SignatureError("not a webhook subscription request (hub.mode != subscribe)")
    given = query.get("hub.verify_token", "")
    if not hmac.compare_digest(verify_token.encode(), given.encode("utf-8", "replace")):
        raise SignatureError("hub.verify_token does not match the integration's verify_token")
    challenge = query.get("hub.challenge")
    if challenge is None:
        raise SignatureError("subscription request without hub.challenge")
    return challenge
