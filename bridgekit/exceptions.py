"""The bridgekit exception hierarchy.

Everything bridgekit raises on purpose derives from :class:`BridgekitError`, so callers can
catch one base class. Plugins raise the ingest and delivery errors below to tell the core
what happened; any *other* exception escaping a plugin is treated as a plugin bug: it is
logged, counted and isolated (see ``bridgekit.plugins``).

::

    BridgekitError
    ├── ConfigError                 invalid or missing configuration
    ├── PluginError                 a plugin could not be loaded or declared nonsense
    ├── UnknownIntegration          no enabled integration has that name
    ├── RequestRefused              a manager's or customer's request was refused -> its status
    │                               (ChatError, MessageError, CapabilityError, UploadError...
    │                               in ``bridgekit.inbox``; the message says why)
    ├── IngestError                 an inbound delivery was refused
    │   ├── SignatureError          signature / token check failed  -> 401, nothing stored
    │   └── MalformedDelivery       authentic but unparseable       -> 400, kept raw
    └── DeliveryError               an outbound send did not go through
        ├── TransientDeliveryError  try again later (5xx, timeout, rate limit)
        └── PermanentDeliveryError  will never work (bad recipient, outside window, ...)
"""

from __future__ import annotations


class BridgekitError(Exception):
    """Base class of every error bridgekit raises deliberately."""


class RequestRefused(BridgekitError):
    """A request bridgekit refuses for a reason its sender can fix; the message says why and
    the API answers it with ``status`` (each subclass's default, or the one given).

    ``code`` is a stable machine name for refusals a client tells apart (the browser inbox
    shows its own translation of them); ``details`` are the values the message names
    (``{"filename": ..., "limit": ...}``), for that translation. Both go out with the answer
    next to the English ``error`` (``docs/api.md``, "Error codes")."""

    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: dict[str, str | int] | None = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.code = code
        self.details = details or {}


class ConfigError(BridgekitError):
    """The configuration file or environment is invalid."""


class PluginError(BridgekitError):
    """A plugin failed to load or made an invalid declaration."""


class UnknownIntegration(BridgekitError):
    """No enabled integration has the requested name."""


class IngestError(BridgekitError):
    """An inbound delivery was refused by the owning plugin."""


class SignatureError(IngestError):
    """The delivery's signature (or secret token) did not verify.

    The core answers 401, stores nothing and increments a counter: an attacker must not be
    able to fill the database by posting garbage.
    """


class MalformedDelivery(IngestError):
    """The delivery is authentic but cannot be parsed.

    The core keeps the raw delivery (flagged ``malformed``) so nothing is lost, and answers
    400 with this exception's message.
    """


class DeliveryError(BridgekitError):
    """An outbound send failed. Raise a subclass from ``bridgekit_deliver``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """The send may succeed later; the outbox retries with backoff.

    ``retry_after`` (seconds) is honoured when the provider said when to come back
    (HTTP 429 ``Retry-After``, for example).
    """

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The send can never succeed as it is; the message is marked failed with ``reason``."""
