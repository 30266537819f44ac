"""Recognise mail written by machines (RFC 3834) and mark bridgekit's own automatic mail.

Auto-replies, bounces and list mail are stored in the chat but flagged ``automated``, so
bots never answer them: two auto-responders answering each other is the classic mail loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.message import Message

from bridgekit_email_forward.parse import ParsedMail

_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_DAEMONS = {"mailer-daemon", "postmaster"}

GMAIL_FORWARDING_SENDER = "forwarding-noreply@google.com"


def automation_reason(mail: ParsedMail, envelope_from: str | None) -> str | None:
    """Why ``mail`` counts as automated, or ``None`` for a person's mail."""
    h = mail.headers
    auto_submitted = h.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in _PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        if h.get(name, "").strip():
            return f"{name}: {h[name].strip()}"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "empty envelope sender (bounce)"
    if mail.content_type == "multipart/report":
        return "multipart/report"
    if mail.from_addr and mail.from_addr.split("@", 1)[0] in _DAEMONS:
        return "mail system sender"
    return None


_CODE_PATTERNS = (
    re.compile(r"(?:Confirmation code|확인 코드|確認コード)\s*[:：]\s*(\d{4,})", re.IGNORECASE),  # noqa: RUF001
    re.compile(r"\(#(\d{4,})\)"),
)
_REQUESTER = re.compile(r"([^\s()<>]+@[^\s()<>]+?)\s*(?:has requested|님이|から)", re.IGNORECASE)
_SUBJECT_REQUESTER = re.compile(
    r"(?:Receive Mail from|메일 수신|からメールを受信)\s*-?\s*([^\s()<>]+@[^\s()<>]+)"
)


def gmail_forwarding_confirmation(mail: ParsedMail) -> dict[str, str] | None:
    """Gmail's forwarding-confirmation mail (E2): the code and who asked, or ``None``.

    The mail stays a normal, readable message; nothing here follows its links.
    """
    if mail.from_addr != GMAIL_FORWARDING_SENDER:
        return None
    found: dict[str, str] = {"provider": "gmail"}
    for pattern in _CODE_PATTERNS:
        for source in (mail.text, mail.subject):
            match = pattern.search(source)
            if match and "code" not in found:
                found["code"] = match.group(1)
    match = _SUBJECT_REQUESTER.search(mail.subject) or _REQUESTER.search(mail.text)
    if match:
        found["requested_by"] = match.group(1).rstrip(".").lower()
    return found


AUTO_HEADERS: Mapping[str, str] = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
}


def mark_automatic(message: Message, kind: str = "auto-generated") -> Message:
    """Mark a mail bridgekit sends on its own (follow-up notices, bot replies) per RFC 3834.

    ``kind`` is ``auto-generated`` (notifications) or ``auto-replied`` (answers to a
    message). Also asks Exchange not to auto-answer it. Returns ``message`` for chaining.
    """
    if kind not in ("auto-generated", "auto-replied"):
        raise ValueError(f"Auto-Submitted must be auto-generated or auto-replied, not {kind!r}")
    for name, value in {**AUTO_HEADERS, "Auto-Submitted": kind}.items():
        del message[name]
        message[name] = value
    return message
