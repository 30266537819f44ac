"""One SMTP delivery -> bridgekit's normalised :class:`~bridgekit.model.IngestResult`.

Pure: no network, no clock. The plugin runs it in a worker thread because a large mail takes
a while to parse and the event loop must keep serving.
"""

from __future__ import annotations

from typing import Any

from bridgekit.exceptions import MalformedDelivery, SignatureError
from bridgekit.model import (
    Contact,
    DeliveryStatus,
    InboundAttachment,
    InboundMessage,
    IngestResult,
    Integration,
    RawDelivery,
    StatusUpdate,
)
from bridgekit_email_forward.automated import automation_reason, gmail_forwarding_confirmation
from bridgekit_email_forward.parse import (
    DAMAGED_MARK,
    ParsedMail,
    UnparseableMail,
    count_files,
    mailbox_address,
    parse_mail,
    synthetic_message_id,
)
from bridgekit_email_forward.quotes import trim_reply
from bridgekit_email_forward.settings import EmailSettings

INBOUND_ATTACHMENT_LIMIT = 4
"""E11: at most this many attachments are loaded into the chat."""

OWN_ID_PREFIX = "<bk."
"""bridgekit's own outbound Message-IDs look like ``<bk.{chat token}.{key}@domain>``."""


def _thread_refs(mail: ParsedMail, own: str) -> list[str]:
    # Most specific first: the message answered, then References from the newest back.
    refs: list[str] = []
    for ref in (*mail.in_reply_to, *reversed(mail.references)):
        if ref != own and ref not in refs:
            refs.append(ref)
    return refs


def _status_updates(mail: ParsedMail) -> list[StatusUpdate]:
    report = mail.report
    if report is None or not report.original_message_id:
        return []
    if not report.original_message_id.startswith(OWN_ID_PREFIX):
        return []
    failed = [r for r in report.recipients if r.action == "failed"]
    if failed:
        reason = "; ".join(f"{r.recipient}: {r.diagnostic or r.status}".strip(": ") for r in failed) or (
            report.human_text[:500] or "delivery failed"
        )
        return [StatusUpdate(report.original_message_id, DeliveryStatus.FAILED, reason)]
    if any(r.action in ("delivered", "relayed", "expanded") for r in report.recipients):
        return [StatusUpdate(report.original_message_id, DeliveryStatus.DELIVERED, None)]
    return []  # "delayed": the relay is still trying


def build_result(integration: Integration, delivery: RawDelivery, mail: ParsedMail) -> IngestResult:
    """Turn a parsed mail into the chat message (or the delivery-status update) it is."""
    envelope_from = delivery.headers.get("mail-from")
    updates = _status_updates(mail)
    if updates:
        # A bounce of one of our own replies: shown on that reply, not as a new chat.
        return IngestResult(status_updates=updates)

    own_id = mail.message_id or synthetic_message_id(delivery.body)
    confirmation = gmail_forwarding_confirmation(mail)
    # A machine wrote the confirmation too: managers read the code, bots never answer it.
    reason = automation_reason(mail, envelope_from)
    if confirmation and reason is None:
        reason = "Gmail forwarding confirmation"

    notices: list[str] = []
    addr = mailbox_address(mail.from_addr)
    if addr is None:
        # Replies to a From that is no address would all fail: answer the envelope sender.
        addr = mailbox_address((envelope_from or "").strip("<>"))
        if addr is None:
            raise MalformedDelivery("the mail has no usable From address and no usable envelope sender")
        shown = mail.headers.get("from", "").strip()[:200]
        notices.append(
            f"The mail's From ({shown!r}) is not an email address; replies go to the envelope sender {addr}."
            if shown
            else f"The mail has no From address; replies go to the envelope sender {addr}."
        )
    if mail.damaged_parts:
        notices.append(
            f"Part of this mail could not be decoded ({'; '.join(mail.damaged_parts)});"
            f" {DAMAGED_MARK} marks what is missing. The original mail is kept in full."
        )

    files = count_files(mail)
    loaded: list[InboundAttachment] = []
    dropped: list[dict[str, Any]] = []
    for item in files:
        if not item.loadable:
            dropped.append({"filename": item.filename, "size": len(item.data), "reason": "unreadable"})
        elif len(loaded) >= INBOUND_ATTACHMENT_LIMIT:
            dropped.append({"filename": item.filename, "size": len(item.data), "reason": "too_many"})
        else:
            loaded.append(InboundAttachment(item.filename, item.content_type, item.data))

    text = mail.text if confirmation else trim_reply(mail.text)
    meta: dict[str, Any] = {
        "message_id": own_id,
        "references": [*mail.references, *(r for r in mail.in_reply_to if r not in mail.references)],
        "in_reply_to": list(mail.in_reply_to),
        "subject": mail.subject,
        "from": addr,
        "to": list(mail.to),
        "cc": list(mail.cc),
        "reply_to": mail.reply_to,
        "envelope_from": envelope_from,
        "envelope_to": delivery.headers.get("rcpt-to", delivery.path),
        "has_html": mail.html is not None,
        "attachments_total": len(files),
        "attachments_not_loaded": len(files) - len(loaded),
        "attachment_names": [f.filename for f in files],
        "dropped_attachments": dropped,
    }
    if notices:
        meta["notices"] = notices
    if not mail.message_id:
        meta["message_id_synthesised"] = True
    if reason:
        meta["automated_reason"] = reason
    if confirmation:
        meta["forwarding_confirmation"] = confirmation
        if "code" in confirmation:
            meta["confirmation_code"] = confirmation["code"]
    if mail.report is not None:
        meta["delivery_report"] = {
            "original_message_id": mail.report.original_message_id,
            "recipients": [
                {"recipient": r.recipient, "action": r.action, "status": r.status, "diagnostic": r.diagnostic}
                for r in mail.report.recipients
            ],
        }

    message = InboundMessage(
        event_id=own_id,
        sender=Contact(kind="email", value=addr, name=mail.from_name, verified=False, shared=True),
        thread_key=own_id,
        text=text,
        title=mail.subject or None,
        thread_refs=tuple(_thread_refs(mail, own_id)),
        attachments=tuple(loaded),
        sent_at=mail.date,
        automated=reason is not None,
        meta=meta,
    )
    return IngestResult(messages=(message,))


def recipient_matches(integration: Integration, delivery: RawDelivery) -> bool:
    """Whether the envelope recipient is this integration's address (never the To: header)."""
    address = EmailSettings.from_integration(integration).address  # only its own settings: address
    rcpt = delivery.headers.get("rcpt-to") or delivery.path
    return not address or rcpt.strip().strip("<>").lower() == address


def ingest(integration: Integration, delivery: RawDelivery) -> IngestResult:
    """Parse one SMTP delivery for ``integration``. Raises ``MalformedDelivery``."""
    if delivery.method.upper() != "SMTP":
        # Only the plugin's own SMTP listener hands in SMTP deliveries; an HTTP request to the
        # integration's webhook URL has nothing to verify, so it is refused and not kept.
        raise SignatureError("the email channel receives mail over SMTP only, not HTTP")
    if not recipient_matches(integration, delivery):
        raise MalformedDelivery(f"envelope recipient {delivery.path!r} is not this integration's address")
    try:
        mail = parse_mail(delivery.body)
    except UnparseableMail as exc:
        raise MalformedDelivery(f"unparseable mail: {exc}") from exc
    return build_result(integration, delivery, mail)
