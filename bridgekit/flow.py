"""Events handed to bot hooks, and the actions a bot can take on them.

A bot never writes to the database itself: it records actions on the event (``reply``,
``note``, ``tag``, ``assign``, ``close``) and may ``stop()`` further processing. The core
applies every recorded action in one transaction together with marking the event done, so a
crash re-runs the hooks but never applies an action twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bridgekit.model import Integration

ChatState = Literal["open", "snoozed", "closed", "queued"]

# Flow event kinds (rows of the core's flow_events queue) and the hook each one calls.
FLOW_HOOKS = {
    "message_received": "bridgekit_message_received",
    "message_sent": "bridgekit_message_sent",
    "chat_state_changed": "bridgekit_chat_state_changed",
    "customer_event": "bridgekit_customer_event",
}
Direction = Literal["inbound", "outbound", "note"]


@dataclass(frozen=True, slots=True)
class ChatView:
    id: int
    state: ChatState
    title: str | None
    customer_id: int
    integration_id: int | None
    channel: str | None
    assignee_id: int | None = None
    team_id: int | None = None


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    direction: Direction
    text: str
    author_kind: str
    created_at: datetime
    automated: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a bot asked for. ``kind`` is reply | note | tag | assign | close."""

    kind: Literal["reply", "note", "tag", "assign", "close"]
    value: Any = None
    bot: str = ""


@dataclass(slots=True)
class FlowEvent:
    """Base of every flow event: the chat, its integration, and the action recorder.

    ``replies_allowed`` is false when the message behind the event was automated (an
    auto-reply, a bounce, a mailbox's confirmation mail: ``InboundMessage.automated``) — for
    a chat state change, when the chat's latest customer message was; the core then drops
    ``reply`` actions, so no machine ever gets an automatic answer.
    """

    chat: ChatView
    integration: Integration | None
    actions: list[Action] = field(default_factory=list)
    stopped: bool = False
    current_plugin: str = ""
    replies_allowed: bool = True

    def reply(self, text: str) -> None:
        """Send ``text`` to the customer through the chat's integration (via the outbox).

        Ignored (dropped by the core) when ``replies_allowed`` is false."""
        self.actions.append(Action("reply", text, self.current_plugin))

    def note(self, text: str) -> None:
        """Add an internal note that only managers see; never delivered out."""
        self.actions.append(Action("note", text, self.current_plugin))

    def tag(self, name: str) -> None:
        self.actions.append(Action("tag", name, self.current_plugin))

    def assign(self, manager_id: int) -> None:
        self.actions.append(Action("assign", manager_id, self.current_plugin))

    def close(self) -> None:
        self.actions.append(Action("close", None, self.current_plugin))

    def stop(self) -> None:
        """Skip the remaining plugins' implementations of this hook for this event."""
        self.stopped = True


@dataclass(slots=True)
class MessageEvent(FlowEvent):
    """A message was received from a customer, or sent to one."""

    message: MessageView | None = None


@dataclass(slots=True)
class ChatStateEvent(FlowEvent):
    """A chat changed state (opened, closed, reopened, snoozed...)."""

    old_state: ChatState | None = None
    new_state: ChatState = "open"


@dataclass(slots=True)
class CustomerEventView(FlowEvent):
    """A customer did something in a chat that is not a message: pressed a button (a LINE
    postback), followed or blocked the account... (a :class:`~bridgekit.model.CustomerEvent`).

    ``kind`` is the plugin's name for it (``"line.postback"``); ``data`` its details.
    """

    kind: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    customer_id: int | None = None
