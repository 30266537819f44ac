"""Raw RFC 5322 bytes -> a decoded, structured :class:`ParsedMail`.

The standard library's parser (the one mail-parser wraps) builds the MIME tree; deep nesting
that exhausts the stack is refused as unparseable. Everything that has to be *decoded* is done
here, because mail-parser and the standard library decode with Python's codec tables:
``ks_c_5601-1987`` as strict EUC-KR, ``Shift_JIS`` without the Windows extensions,
ISO-2022-JP without NEC row 13. See :mod:`bridgekit_email_forward.charsets`.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.utils
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from bridgekit_email_forward.charsets import (
    decode_bytes,
    decode_damaged,
    decode_header_value,
    lenient_b64decode,
    surrogate_bytes,
)
from bridgekit_email_forward.htmltext import html_to_text

_MSGID = re.compile(r"<([^<>\s]+)>")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
MAX_ID_LENGTH = 250


class UnparseableMail(ValueError):
    """The bytes are not a mail anything can be made of."""


def normalise_message_id(value: str | None) -> str | None:
    """``<local@domain>`` from a Message-ID header; ids too long for the store are hashed."""
    if not value:
        return None
    match = _MSGID.search(value)
    inner = match.group(1) if match else value.strip().strip("<>").strip()
    if not inner or any(ch.isspace() for ch in inner):
        return None
    if len(inner) > MAX_ID_LENGTH:
        return f"<sha256.{hashlib.sha256(inner.encode()).hexdigest()}@long-id.invalid>"
    return f"<{inner}>"


def message_ids(value: str | None) -> list[str]:
    """Every ``<id>`` in an In-Reply-To / References header, in order, without repeats."""
    if not value:
        return []
    found: list[str] = []
    for inner in _MSGID.findall(value):
        norm = normalise_message_id(f"<{inner}>")
        if norm and norm not in found:
            found.append(norm)
    return found


_ADDR_SPEC = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")


def mailbox_address(value: str | None) -> str | None:
    """``value`` lower-cased if it is a plain ``local@domain`` address mail can be sent to,
    else ``None`` (``broken``, ``a@b@c``, ``<>``)."""
    if not value:
        return None
    value = value.strip()
    if not _ADDR_SPEC.fullmatch(value) or value.endswith(".") or "." not in value.rsplit("@", 1)[1]:
        return None
    return value.lower()


def synthetic_message_id(raw: bytes) -> str:
    """A stable Message-ID for a mail without one: the same bytes give the same id."""
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"


@dataclass(frozen=True, slots=True)
class MailAttachment:
    """One attached file (or inline image) of a mail, decoded."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False
    loadable: bool = True


@dataclass(frozen=True, slots=True)
class RecipientReport:
    """One per-recipient block of a delivery-status notification (RFC 3464)."""

    recipient: str
    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A ``multipart/report; report-type=delivery-status`` mail."""

    original_message_id: str | None
    recipients: tuple[RecipientReport, ...]
    human_text: str


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """Everything bridgekit needs from one mail, already decoded to ``str``."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_name: str | None
    from_addr: str | None
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None
    text: str
    html: str | None
    attachments: tuple[MailAttachment, ...]
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    report: DeliveryReport | None = None
    charsets: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    damaged_parts: tuple[str, ...] = ()
    """Body parts whose transfer encoding was damaged (decoded as far as possible)."""


def _charsets(msg: Message) -> list[str]:
    seen: list[str] = []
    for part in msg.walk():
        cs = part.get_param("charset")
        if isinstance(cs, str) and cs.lower() not in seen:
            seen.append(cs.lower())
    return seen


def _header(msg: Message, name: str, hints: list[str]) -> str:
    value = msg.get(name)
    return decode_header_value(value, hints) if value is not None else ""


def _raw_header_text(msg: Message, name: str, hints: list[str]) -> str:
    """A header's text with raw 8-bit bytes decoded but encoded words left for later."""
    values = msg.get_all(name) or []
    out = []
    for value in values:
        raw = surrogate_bytes(value)
        out.append(decode_bytes(raw, None, hints) if raw is not None else str(value))
    return ", ".join(out)


def _addresses(msg: Message, name: str, hints: list[str]) -> list[tuple[str, str]]:
    # Split the addresses *before* decoding names: a decoded name may contain a comma.
    raw = _raw_header_text(msg, name, hints)
    if not raw:
        return []
    pairs = email.utils.getaddresses([raw])
    return [(decode_header_value(n, hints), a.strip()) for n, a in pairs if a.strip() or n.strip()]


def filename_of(part: Message, hints: list[str]) -> str | None:
    """The attachment's file name: RFC 2231 (any charset, continuations), RFC 2047 in a
    quoted parameter (Outlook, Korean/Japanese webmail), or ``Content-Type; name=``."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value: Any = part.get_param(param, header=header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded text)
            charset, _lang, text = value
            data = bytes(text, "raw-unicode-escape")
            name = decode_bytes(data, charset or None, hints)
        else:
            raw = surrogate_bytes(value)
            name = decode_bytes(raw, None, hints) if raw is not None else str(value)
            name = email.utils.unquote(name)
        name = decode_header_value(name, hints)
        if name:
            # A name is a name, not a path.
            return name.replace("\\", "/").rsplit("/", 1)[-1] or None
    return None


def _date(msg: Message) -> datetime | None:
    value = msg.get("date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None


DAMAGED_MARK = "[…]"
"""Stands in the text where lines of a damaged base64 part could not be decoded."""


def _base64_runs(payload: str) -> list[bytes | None]:
    """Base64 decoded leniently. Returns runs of decoded bytes with ``None`` where lines were
    lost; one run when nothing was.

    Characters outside the alphabet are skipped, as every decoder does. Mailers wrap base64
    in lines of one width; a line of another length (not the last) lost or gained characters,
    and decoding through it would shift every byte after it. When the width holds whole
    4-character groups (76 in practice) each line decodes on its own and only damaged lines
    are lost; otherwise the damage cannot be placed and the decoded bytes end with ``None``.
    """
    # The usual part, lines of one width and nothing to skip, decodes whole; no regex scans
    # it first: a stray character fails the strict decode and takes the lenient path below.
    lines = payload.splitlines()
    if len(set(map(len, lines[:-1]))) <= 1:
        joined = "".join(lines)
        try:
            return [base64.b64decode(joined + "=" * (-len(joined) % 4), validate=True)]
        except ValueError:  # binascii.Error, or a character outside ASCII
            pass
    lines = [clean for line in payload.splitlines() if (clean := _NOT_BASE64.sub("", line))]
    if not lines:
        return [b""]
    joined = "".join(lines)
    body = lines[:-1]
    width = Counter(map(len, body)).most_common(1)[0][0] if body else len(lines[0])
    if all(len(line) == width for line in body):
        try:
            return [base64.b64decode(joined + "=" * (-len(joined) % 4), validate=True)]
        except binascii.Error:
            pass
    if width % 4:
        return [lenient_b64decode(joined), None]
    runs: list[bytes | None] = []
    current = bytearray()
    for n, line in enumerate(lines):
        last = n == len(lines) - 1
        if len(line) == width or last:
            try:
                current += base64.b64decode(line + ("=" * (-len(line) % 4) if last else ""), validate=True)
                continue
            except binascii.Error:
                pass
        if current:
            runs.append(bytes(current))
            current = bytearray()
        if not runs or runs[-1] is not None:
            runs.append(None)
    if current:
        runs.append(bytes(current))
    return runs


def _decode_text(part: Message, hints: list[str], damage: list[str] | None = None) -> str:
    charset = part.get_content_charset()
    raw = part.get_payload()
    if str(part.get("content-transfer-encoding", "")).strip().lower() == "base64" and isinstance(raw, str):
        runs = _base64_runs(raw)
        if len(runs) > 1 or runs[0] is None:
            if damage is not None:
                damage.append(f"{part.get_content_type()}: invalid base64")
            # Fragments start and end mid-character: drop the replacement characters that makes.
            text = "".join(
                DAMAGED_MARK if r is None else decode_damaged(r, charset, hints).strip("\ufffd") for r in runs
            )
            return text.replace("\r\n", "\n")
        payload: Any = runs[0]
    else:
        payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, charset, hints).replace("\r\n", "\n")


def _delivery_report(msg: Message, hints: list[str]) -> DeliveryReport | None:
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "")).lower() != "delivery-status":
        return None
    recipients: list[RecipientReport] = []
    original: str | None = None
    human = ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            blocks = part.get_payload()
            if not isinstance(blocks, list):
                continue
            for block in blocks:
                if not isinstance(block, Message) or not block.get("action"):
                    continue
                recipient = str(block.get("final-recipient") or block.get("original-recipient") or "")
                recipients.append(
                    RecipientReport(
                        recipient=recipient.split(";", 1)[-1].strip(),
                        action=str(block.get("action", "")).strip().lower(),
                        status=str(block.get("status", "")).strip(),
                        diagnostic=re.sub(
                            r"\s+", " ", str(block.get("diagnostic-code", "")).split(";", 1)[-1]
                        ).strip(),
                    )
                )
        elif ctype == "message/rfc822" and original is None:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original = normalise_message_id(str(inner[0].get("message-id", "")))
        elif ctype == "text/rfc822-headers" and original is None:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                headers = BytesHeaderParser().parsebytes(data)
                original = normalise_message_id(str(headers.get("message-id", "")))
        elif ctype == "text/plain" and not human:
            human = _decode_text(part, hints)
    return DeliveryReport(original, tuple(recipients), human.strip())


def _collect(
    part: Message,
    hints: list[str],
    plain: list[str],
    html: list[str],
    attachments: list[MailAttachment],
    damage: list[str],
) -> None:
    ctype = part.get_content_type()
    if ctype in ("message/delivery-status", "text/rfc822-headers"):
        return
    disposition = part.get_content_disposition()
    filename = filename_of(part, hints)
    if ctype == "message/rfc822" or (part.is_multipart() and disposition == "attachment"):
        # An attached mail: one attachment, its insides are not this mail's body.
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        data = first.as_bytes() if isinstance(first, Message) else b""
        subject = ""
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            subject = _header(inner[0], "subject", hints)
        attachments.append(
            MailAttachment(filename or f"{subject or 'message'}.eml", "message/rfc822", data, None, False)
        )
        return
    if part.is_multipart():
        sub = part.get_payload()
        if not isinstance(sub, list):
            return
        for child in sub:
            if isinstance(child, Message):
                _collect(child, hints, plain, html, attachments, damage)
        return
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text = _decode_text(part, hints, damage)
        (plain if ctype == "text/plain" else html).append(text)
        return
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    cid = part.get("content-id")
    content_id = str(cid).strip().strip("<>") if cid else None
    if not filename:
        ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "text/calendar": "ics"}.get(
            ctype, "bin"
        )
        filename = f"{content_id or 'attachment'}.{ext}"
    attachments.append(
        MailAttachment(
            filename=filename,
            content_type=ctype,
            data=data,
            content_id=content_id,
            inline=disposition == "inline" or (disposition is None and content_id is not None),
            loadable=bool(data),
        )
    )


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one raw mail. Raises :class:`UnparseableMail` if it is not a mail at all."""
    if not raw or not raw.strip():
        raise UnparseableMail("empty message")
    # The structure comes from the standard library's parser, the one mail-parser wraps:
    # mail-parser's own decoding of every part cost more than the rest of ingest and was
    # thrown away, because the charset fixes below decode each part themselves.
    try:
        msg = email.message_from_bytes(raw)
        defects = [f"{d.__class__.__name__}: {d.__doc__}" for part in msg.walk() for d in part.defects]
    except RecursionError as exc:  # multipart nesting deep enough to exhaust the stack
        raise UnparseableMail("the message is nested too deeply to parse") from exc
    except Exception as exc:
        raise UnparseableMail(f"the message could not be parsed: {exc}") from exc
    if len(msg.keys()) == 0:
        raise UnparseableMail("no header fields")
    if not any(msg.get(h) for h in ("from", "sender", "message-id", "subject", "date")):
        raise UnparseableMail("none of From, Sender, Message-ID, Subject, Date is present")

    hints = _charsets(msg)
    plain: list[str] = []
    html: list[str] = []
    attachments: list[MailAttachment] = []
    damage: list[str] = []
    _collect(msg, hints, plain, html, attachments, damage)

    html_text = "\n".join(html) if html else None
    body_text = "\n".join(p.strip("\n") for p in plain if p.strip())
    if not body_text and html_text:
        body_text = html_to_text(html_text)

    froms = _addresses(msg, "from", hints) or _addresses(msg, "sender", hints)
    from_name, from_addr = froms[0] if froms else ("", "")
    reply_to = _addresses(msg, "reply-to", hints)
    headers = {k.lower(): decode_header_value(v, hints) for k, v in msg.items()}
    return ParsedMail(
        message_id=normalise_message_id(str(msg.get("message-id", ""))),
        in_reply_to=tuple(message_ids(str(msg.get("in-reply-to", "")))),
        references=tuple(message_ids(" ".join(str(v) for v in msg.get_all("references") or []))),
        subject=_header(msg, "subject", hints),
        from_name=from_name or None,
        from_addr=from_addr.lower() or None,
        reply_to=reply_to[0][1].lower() if reply_to else None,
        to=tuple(a.lower() for _, a in _addresses(msg, "to", hints)),
        cc=tuple(a.lower() for _, a in _addresses(msg, "cc", hints)),
        date=_date(msg),
        text=body_text,
        html=html_text,
        attachments=tuple(attachments),
        headers=headers,
        content_type=msg.get_content_type(),
        report=_delivery_report(msg, hints),
        charsets=tuple(hints),
        defects=tuple(defects),
        damaged_parts=tuple(damage),
    )


def count_files(mail: ParsedMail) -> list[MailAttachment]:
    """The attachments that count for E11: files, not images embedded in the HTML."""
    if mail.html is None:
        return list(mail.attachments)
    return [
        a
        for a in mail.attachments
        if not (a.content_id and a.content_type.startswith("image/") and f"cid:{a.content_id}" in mail.html)
    ]
