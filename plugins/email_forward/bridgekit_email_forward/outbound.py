"""Sending a manager's reply by SMTP through the configured relay (E5, E8).

Failures are mapped the way the outbox expects: a 4xx reply, a timeout or a refused
connection is transient (retried with backoff); a 5xx reply is permanent and carries the
relay's own text as the reason.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import formataddr, parseaddr

import aiosmtplib

from bridgekit.exceptions import PermanentDeliveryError, TransientDeliveryError
from bridgekit.model import DeliveryResult, Integration, OutboundMessage
from bridgekit_email_forward.automated import mark_automatic
from bridgekit_email_forward.compose import (
    FileAttachment,
    chat_token,
    compose_first_mail,
    compose_reply,
    make_message_id,
)
from bridgekit_email_forward.domain import DomainVerifier, dkim_sign
from bridgekit_email_forward.settings import EmailSettings

_SLUG = re.compile(r"[^a-z0-9]+")


def manager_local_part(name: str | None, settings: EmailSettings) -> str:
    """The local part of a manager's address on the verified domain.

    ``manager_addresses`` maps a manager's name to a local part (needed for names without
    Latin letters, such as ``김민지``); otherwise the name is slugged (``Minji Kim`` ->
    ``minji.kim``); ``support`` when nothing usable is left.
    """
    if name and name in settings.manager_addresses:
        return settings.manager_addresses[name]
    slug = _SLUG.sub(".", (name or "").lower()).strip(".")
    return slug or str(settings.manager_addresses.get("*", "support"))


async def sender_for(
    message: OutboundMessage, settings: EmailSettings, verifier: DomainVerifier
) -> tuple[str, str | None]:
    """(From header, DKIM domain or ``None``): the manager on the verified domain, else the
    channel's default sender (E8)."""
    domain = settings.domain
    if domain and await verifier.is_verified(
        domain, settings.domain_verification_token, settings.dns_resolver
    ):
        address = f"{manager_local_part(message.author_name, settings)}@{domain}"
        return formataddr((message.author_name or "", address)) if message.author_name else address, domain
    return settings.default_from, None


def _raise_for(exc: Exception) -> None:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}".strip()
        if 400 <= exc.code < 500 or exc.code == -1:
            raise TransientDeliveryError(f"relay answered {text}") from exc
        raise PermanentDeliveryError(f"relay answered {text}") from exc
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        raise PermanentDeliveryError(f"relay refused the credentials: {exc}") from exc
    raise TransientDeliveryError(f"relay unreachable: {exc.__class__.__name__}: {exc}") from exc


async def send_bytes(data: bytes, *, sender: str, recipients: Sequence[str], settings: EmailSettings) -> None:
    """Hand one signed mail to the relay."""
    tls = settings.relay_tls
    try:
        await aiosmtplib.send(
            data,
            sender=sender,
            recipients=list(recipients),
            hostname=settings.relay_host,
            port=settings.relay_port,
            username=settings.relay_username,
            password=settings.relay_password or None,
            use_tls=tls == "tls",
            start_tls=None if tls == "auto" else tls == "starttls",
            timeout=settings.relay_timeout,
        )
    except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        _raise_for(exc)


async def _read_files(message: OutboundMessage) -> list[FileAttachment]:
    files = []
    for item in message.attachments:
        try:
            data = await asyncio.to_thread(item.path.read_bytes)
        except OSError as exc:
            raise PermanentDeliveryError(f"attachment {item.filename!r} cannot be read: {exc}") from exc
        files.append(FileAttachment(item.filename, item.content_type, data))
    return files


async def deliver(
    integration: Integration,
    message: OutboundMessage,
    settings: EmailSettings,
    verifier: DomainVerifier,
    *,
    now: datetime | None = None,
) -> DeliveryResult:
    """Compose, sign and send ``message`` to the one customer; see the module docstring."""
    to = parseaddr(message.recipient.value)[1]
    if message.recipient.kind != "email" or "@" not in to:
        raise PermanentDeliveryError(
            f"cannot send email to {message.recipient.kind} {message.recipient.value!r}"
        )
    from_, dkim_domain = await sender_for(message, settings, verifier)
    message_id = make_message_id(
        chat_token(integration.id, message.chat_id),
        message.idempotency_key,
        dkim_domain or settings.id_domain,
    )
    # Replies come back to the integration's address unless the brand's own mailbox (which
    # forwards to it) should receive them.
    reply_to = settings.reply_to or (None if dkim_domain else settings.address)
    if reply_to and parseaddr(reply_to)[1].lower() == parseaddr(from_)[1].lower():
        reply_to = None
    files = await _read_files(message)
    context = dict(message.reply_context)
    date = now or datetime.now(UTC)
    if context.get("message_id") or not message.title:
        mail = compose_reply(
            from_=from_,
            to=to,
            title=message.title,
            text=message.text,
            message_id=message_id,
            date=date,
            reply_context=context,
            reply_to=reply_to,
            attachments=files,
        )
    else:
        mail = compose_first_mail(
            from_=from_,
            to=to,
            subject=message.title,
            text=message.text,
            message_id=message_id,
            date=date,
            reply_to=reply_to,
            attachments=files,
        )
    if message.author_kind == "bot":
        # RFC 3834: a bot's answer must say so, or the customer's auto-responder may loop.
        mark_automatic(mail, "auto-replied")
    data = mail.as_bytes()
    if dkim_domain and settings.dkim_private_key:
        data = dkim_sign(
            data,
            selector=settings.dkim_selector,
            domain=dkim_domain,
            private_key_pem=settings.dkim_private_key,
        )
    # Bounces go to our own inbound address, where they become delivery-status updates.
    envelope_from = settings.envelope_from or settings.address
    await send_bytes(data, sender=envelope_from, recipients=[to], settings=settings)
    return DeliveryResult(
        provider_message_id=message_id,
        thread_key=message_id,
        meta={"message_id": message_id, "from": from_, "subject": str(mail["Subject"])},
    )
