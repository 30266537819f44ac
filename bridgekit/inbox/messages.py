"""What managers write into a chat: replies to the customer and internal notes (I13-I15).

A reply is written with its outbox row (and its attachments) in one transaction, so
``bridgekit_deliver`` receives the files as ``OutboundAttachment``s. A note never gets an
outbox row: it cannot reach the customer. ``#shortcut`` macros are expanded and ``@mentions``
notify the managers named (without a push for notes on closed chats, I13). A reply is held
to its channel's limits (``bridgekit.inbox.capabilities``) before anything is written. The
caller publishes the returned events after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bridgekit.exceptions import RequestRefused
from bridgekit.inbox.capabilities import MAX_TEXT, ChannelLimits
from bridgekit.inbox.forms import FormError, validate_buttons, validate_form
from bridgekit.inbox.macros import expand_macros
from bridgekit.inbox.managers import Manager
from bridgekit.inbox.mentions import find_mentions, mentionables, recipients
from bridgekit.inbox.message_writer import message_created, write_note, write_reply
from bridgekit.inbox.notify import notify
from bridgekit.inbox.uploads import StoredUpload
from bridgekit.runtime.clock import utcnow
from bridgekit.runtime.events import Event
from bridgekit.storage import schema as s
from bridgekit.storage.sql import last_inbound_ids
from bridgekit.storage.storable import storable

KINDS = ("reply", "note")


class MessageError(RequestRefused):
    """A message was refused; the text says why (answered 400)."""


@dataclass(frozen=True, slots=True)
class Draft:
    kind: str
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    form: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    message_id: int
    kind: str
    text: str
    events: list[Event]


def parse_draft(body: dict[str, Any]) -> Draft:
    """Validate a message body (JSON, or a multipart message's payload part)."""
    kind = body.get("kind", "reply")
    text = body.get("text", "")
    if kind not in KINDS:
        raise MessageError("kind must be 'reply' or 'note'")
    if not isinstance(text, str):
        raise MessageError("text must be a string")
    if len(text) > MAX_TEXT:
        raise MessageError(f"text is longer than {MAX_TEXT} characters")
    if not storable(text):
        raise MessageError("text must not contain NUL characters or unpaired surrogates")
    try:
        buttons = validate_buttons(body["buttons"]) if body.get("buttons") is not None else []
        form = validate_form(body["form"]) if body.get("form") is not None else None
    except FormError as exc:
        raise MessageError(str(exc)) from None
    if kind == "note" and (buttons or form):
        raise MessageError("link buttons and forms are for replies to the customer, not notes")
    return Draft(kind, text, buttons, form)


async def post_message(
    conn: AsyncConnection,
    *,
    workspace_id: int,
    chat: Any,
    manager: Manager,
    draft: Draft,
    files: Sequence[StoredUpload] = (),
    limits: ChannelLimits | None = None,
) -> Posted:
    """Write a reply (with its outbox row) or a note, its attachments and its mentions.

    A reply beyond the channel's ``limits`` (its text once macros are expanded, its files)
    raises :class:`~bridgekit.inbox.capabilities.CapabilityError` before anything is written.
    """
    customer_name = (
        await conn.execute(select(s.customers.c.name).where(s.customers.c.id == chat.customer_id))
    ).scalar()
    variables = {
        "customer.name": customer_name or "",
        "manager.name": manager.name,
        "chat.id": str(chat.id),
        "chat.title": chat.title or "",
    }
    text, macro_ids = await expand_macros(conn, workspace_id, draft.text, variables)
    if not text.strip() and not files:
        raise MessageError("text is required (or attach a file)")
    if draft.kind == "reply" and limits is not None:
        limits.check_text(text)
        limits.check_count(len(files))
        for f in files:
            limits.check_file(f.filename, f.content_type, f.size)
    mentions = find_mentions(text, await mentionables(conn, workspace_id))
    meta: dict[str, Any] = {}
    if draft.buttons:
        meta["buttons"] = draft.buttons
    if draft.form is not None:
        meta["form"] = draft.form
    if mentions:
        meta["mentions"] = mentions.as_json()
    if macro_ids:
        meta["macros"] = macro_ids
    if draft.kind == "reply":
        message_id = await write_reply(
            conn,
            chat_id=chat.id,
            text=text,
            author_kind="manager",
            author_id=manager.id,
            author_name=manager.name,
            meta=meta,
        )
    else:
        message_id = await write_note(
            conn,
            chat.id,
            text,
            author_kind="manager",
            author_id=manager.id,
            author_name=manager.name,
            meta=meta,
        )
    now = utcnow()
    if files:
        await conn.execute(
            s.attachments.insert(),
            [
                {
                    "message_id": message_id,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size": f.size,
                    "sha256": f.sha256,
                    "storage_path": str(f.path),
                    "created_at": now,
                }
                for f in files
            ],
        )
    events = [message_created(chat.id, message_id, "outbound" if draft.kind == "reply" else "note")]
    if mentions:
        # I13: a note on a closed chat still lands in the notification list, without a push.
        push = not (draft.kind == "note" and chat.state == "closed")
        targets = await recipients(conn, mentions)
        targets.discard(manager.id)
        events += await notify(
            conn, targets, chat_id=chat.id, kind="mention", message_id=message_id, push=push
        )
    return Posted(message_id, draft.kind, text, events)


async def message_page(
    conn: AsyncConnection,
    chat_id: int,
    *,
    before: int | None,
    limit: int,
    directions: Sequence[str] | None = None,
) -> tuple[list[Any], dict[int, list[Any]]]:
    """The latest ``limit`` messages of a chat older than ``before``, oldest first, with their
    attachment rows by message id (one query each; shared by the manager API and the
    customer link, which passes ``directions`` to hide notes)."""
    m, a = s.messages, s.attachments
    query = select(m).where(m.c.chat_id == chat_id)
    if directions is not None:
        query = query.where(m.c.direction.in_(list(directions)))
    if before is not None:
        query = query.where(m.c.id < before)
    rows = list(reversed((await conn.execute(query.order_by(m.c.id.desc()).limit(limit))).all()))
    files: dict[int, list[Any]] = {}
    if rows:
        found = await conn.execute(
            select(a.c.id, a.c.message_id, a.c.filename, a.c.content_type, a.c.size)
            .where(a.c.message_id.in_([r.id for r in rows]))
            .order_by(a.c.id)
        )
        for f in found:
            files.setdefault(f.message_id, []).append(f)
    return rows, files


async def stored_attachment(conn: AsyncConnection, attachment_id: int) -> Any:
    """The file name, content type and storage path of an attachment, or None."""
    a = s.attachments
    return (
        await conn.execute(
            select(a.c.filename, a.c.content_type, a.c.storage_path).where(a.c.id == attachment_id)
        )
    ).first()


async def last_customer_meta(conn: AsyncConnection, chat_id: int) -> dict[str, Any]:
    """The ``meta`` of the customer's latest message in a chat (``{}`` without one): what
    ``bridgekit_check_reply`` gets as ``reply_context``, as the outbox hands it to deliver."""
    m, latest = s.messages, last_inbound_ids([chat_id])
    meta = (await conn.execute(select(m.c.meta).join(latest, latest.c.id == m.c.id))).scalar()
    return dict(meta or {})
