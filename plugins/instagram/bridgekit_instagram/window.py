"""Instagram's messaging windows, decided before anything is sent.

Meta lets a business answer a customer for 24 hours after the customer's last message
(``messaging_type: RESPONSE``). A human agent may answer up to 7 days after it with
``messaging_type: MESSAGE_TAG`` and ``tag: HUMAN_AGENT`` (the app needs the Human Agent
permission). Later than that nothing can be sent until the customer writes again, so the
plugin refuses without calling Meta.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bridgekit.exceptions import PermanentDeliveryError

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """The ``messaging_type`` (and ``tag``) a send needs right now."""

    messaging_type: str = "RESPONSE"
    tag: str | None = None

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        body["messaging_type"] = self.messaging_type
        if self.tag:
            body["tag"] = self.tag
        return body


def last_customer_message(reply_context: Mapping[str, Any]) -> datetime | None:
    """The customer's latest message time, from the inbound ``meta`` the core hands back."""
    raw = reply_context.get("timestamp")
    if raw is None or isinstance(raw, bool):
        return None
    try:
        millis = int(raw)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def decide(reply_context: Mapping[str, Any], now: datetime, *, human_agent: bool = True) -> SendPolicy:
    """Pick the send policy or raise :class:`PermanentDeliveryError` when the window is shut.

    Without a known customer message time (no inbound message in the chat yet) the plain
    policy is used and Meta's own answer decides; a refusal comes back as error 10/551.
    """
    last = last_customer_message(reply_context)
    if last is None:
        return SendPolicy()
    age = now - last
    if age < STANDARD_WINDOW:
        return SendPolicy()
    if age < HUMAN_AGENT_WINDOW:
        if not human_agent:
            raise PermanentDeliveryError(
                "Instagram allows replies only within 24 hours of the customer's last message "
                f"(it was {_hours(age)} ago) and the HUMAN_AGENT tag is switched off for this "
                "integration; the customer has to write again first"
            )
        return SendPolicy("MESSAGE_TAG", "HUMAN_AGENT")
    raise PermanentDeliveryError(
        "Instagram allows a human agent to reply only within 7 days of the customer's last "
        f"message (it was {_hours(age)} ago, on {last:%Y-%m-%d %H:%M} UTC); the customer has "
        "to write again before you can answer"
    )


def _hours(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"
