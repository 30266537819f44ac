"""Composing the mails bridgekit sends: replies (E5), first mails (E10), forwarded
conversations (E9).

Pure functions from data to :class:`email.message.EmailMessage`; sending, DKIM and the
choice of From (E8) are :mod:`bridgekit_email_forward.outbound`'s business.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

# RFC 5322 allows 998-octet lines; folding at 78 would split our long Message-IDs onto a
# continuation line, which some clients' threading does not unfold.
POLICY = SMTP.clone(max_line_length=998)

_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|회신|답장|返信)\s*(?:\[\d+\])?\s*[:：]", re.IGNORECASE)  # noqa: RUF001
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def reply_subject(title: str | None) -> str:
    """``Re: <title>``, without stacking a second ``Re:`` (or 회신:/返信:) on a reply."""
    title = (title or "").strip()
    if not title:
        return "Re:"
    if _REPLY_PREFIX.match(title):
        return title
    return f"Re: {title}"


def chat_token(integration_id: int, chat_id: int) -> str:
    """A short, stable token naming the chat inside bridgekit's Message-IDs."""
    return hashlib.sha256(f"{integration_id}:{chat_id}".encode()).hexdigest()[:12]


def make_message_id(token: str, idempotency_key: str, domain: str) -> str:
    """``<bk.{token}.{key}@domain>``: the same key gives the same id on every retry, so a
    receiver that saw the first attempt recognises the second as a duplicate."""
    key = _SAFE.sub("-", idempotency_key).strip("-") or "x"
    return f"<bk.{_SAFE.sub('-', token)}.{key}@{domain}>"


def own_chat_token(message_id: str) -> str | None:
    """The chat token inside one of bridgekit's own Message-IDs, else ``None``."""
    match = re.fullmatch(r"<bk\.([A-Za-z0-9_-]+)\.[^@>]+@[^>]+>", message_id.strip())
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class FileAttachment:
    """An attachment to send: its name, MIME type and bytes."""

    filename: str
    content_type: str
    data: bytes


def _attach(msg: EmailMessage, files: Sequence[FileAttachment]) -> None:
    for item in files:
        maintype, _, subtype = item.content_type.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        if maintype == "text":
            # add_attachment() insists on str for text/*; send the file's bytes untouched.
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)


def build_mail(
    *,
    from_: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    reply_to: str | None = None,
    attachments: Sequence[FileAttachment] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
) -> EmailMessage:
    """One mail to exactly one recipient: no Cc, no Bcc (E5)."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = from_
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    refs = [r for r in dict.fromkeys(references) if r]
    if refs:
        msg["References"] = " ".join(refs)
    if reply_to:
        msg["Reply-To"] = reply_to
    for name, value in extra_headers:
        msg[name] = value
    # base64, not 8bit: a relay without 8BITMIME must not mangle Korean and Japanese text.
    msg.set_content(
        text if text.endswith("\n") else text + "\n", subtype="plain", charset="utf-8", cte="base64"
    )
    _attach(msg, attachments)
    return msg


def compose_reply(
    *,
    from_: str,
    to: str,
    title: str | None,
    text: str,
    message_id: str,
    date: datetime,
    reply_context: dict[str, object] | None = None,
    reply_to: str | None = None,
    attachments: Sequence[FileAttachment] = (),
) -> EmailMessage:
    """A manager's reply; threads under the customer's latest mail (``reply_context`` is
    that message's ``meta``: ``message_id``, ``references``, ``subject``)."""
    ctx = reply_context or {}
    parent = ctx.get("message_id")
    parent_id = parent if isinstance(parent, str) and parent else None
    refs_value = ctx.get("references")
    refs = [r for r in refs_value if isinstance(r, str)] if isinstance(refs_value, list) else []
    if parent_id:
        refs.append(parent_id)
    subject_source = title or (ctx.get("subject") if isinstance(ctx.get("subject"), str) else None)
    return build_mail(
        from_=from_,
        to=to,
        subject=reply_subject(subject_source if isinstance(subject_source, str) else None),
        text=text,
        message_id=message_id,
        date=date,
        in_reply_to=parent_id,
        references=refs,
        reply_to=reply_to,
        attachments=attachments,
    )


def compose_first_mail(
    *,
    from_: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    date: datetime,
    reply_to: str | None = None,
    attachments: Sequence[FileAttachment] = (),
) -> EmailMessage:
    """E10: a manager writes to a customer first; the subject is used as given."""
    if not subject.strip():
        raise ValueError("a first email needs a subject")
    return build_mail(
        from_=from_,
        to=to,
        subject=subject.strip(),
        text=text,
        message_id=message_id,
        date=date,
        reply_to=reply_to,
        attachments=attachments,
    )


@dataclass(frozen=True, slots=True)
class ConversationEntry:
    """One message of a chat, for forwarding (E9).

    ``raw`` is the original mail of an inbound email message (from ``raw_deliveries``): it is
    attached unchanged, so attachments the chat did not load (E11) reach the recipient too.
    """

    author: str
    direction: str  # inbound | outbound | note
    sent_at: datetime
    text: str
    raw: bytes | None = None
    attachments: Sequence[FileAttachment] = field(default_factory=tuple)


def compose_forwarded_conversation(
    entries: Sequence[ConversationEntry],
    *,
    from_: str,
    to: str,
    title: str | None,
    message_id: str,
    date: datetime,
    note: str = "",
    include_notes: bool = False,
) -> EmailMessage:
    """E9: a chat forwarded to an external address, as one readable mail.

    The body lists the messages oldest first; internal notes stay internal unless
    ``include_notes``. Each customer mail's original is attached as ``message/rfc822``.
    """
    lines: list[str] = []
    if note.strip():
        lines += [note.strip(), ""]
    lines.append("---------- Forwarded conversation ----------")
    if title:
        lines.append(f"Subject: {title}")
    lines.append("")
    kept = [e for e in entries if include_notes or e.direction != "note"]
    files: list[FileAttachment] = []
    originals: list[bytes] = []
    for entry in sorted(kept, key=lambda e: e.sent_at):
        label = {"inbound": "", "outbound": "", "note": " (internal note)"}.get(entry.direction, "")
        lines.append(f"From: {entry.author}{label}")
        lines.append(f"Date: {format_datetime(entry.sent_at)}")
        lines.append("")
        lines.append(entry.text.rstrip())
        if entry.attachments:
            lines.append("[" + ", ".join(a.filename for a in entry.attachments) + "]")
        lines.append("")
        files.extend(entry.attachments)
        if entry.raw is not None:
            originals.append(entry.raw)
    msg = build_mail(
        from_=from_,
        to=to,
        subject=f"Fwd: {title}" if title else "Fwd: conversation",
        text="\n".join(lines),
        message_id=message_id,
        date=date,
        attachments=files,
    )
    for raw in originals:
        # message/rfc822 may not be base64-encoded (RFC 2046 5.2.1): attach the parsed mail.
        inner = message_from_bytes(raw, policy=POLICY)
        msg.add_attachment(inner, disposition="attachment", filename="original.eml")
    return msg


def display_from(name: str | None, address: str) -> str:
    """``"Name" <address>`` with the name RFC 2047-encoded when it is not ASCII."""
    return formataddr((name or "", address)) if name else address
