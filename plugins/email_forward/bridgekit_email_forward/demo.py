"""Local mail stand-ins as ``bridgekit demo``'s email world: customers' forwarded mail comes
in over SMTP to the plugin's own listener, and replies leave through a local relay sink."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

import aiosmtplib

from bridgekit import DemoProvider
from bridgekit_email_forward.sandbox import DnsServer, SmtpSink, forward_mail

ADDRESS = "support@demo.example"  # the channel's inbound (forwarding) address


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmailDemo(DemoProvider):
    channel = "email"

    def __init__(self) -> None:
        self.relay = SmtpSink()
        self.dns = DnsServer()  # answers nothing: the demo domain stays unverified
        self.smtp_port = 0
        self.users: dict[str, str] = {}  # customer name -> address

    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        await self.relay.start()
        await self.dns.start()
        self.smtp_port = _free_port()
        settings = {
            "address": ADDRESS,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.smtp_port,
            "relay_host": self.relay.host,
            "relay_port": self.relay.port,
            "relay_tls": "none",
            "dns_resolver": self.dns.address,
        }
        return settings, {}

    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        """Mail in over SMTP (``hook_url`` is not used: mail does not arrive by HTTP).
        250 is reported as 200; a refusal as its SMTP code."""
        address = self.users.setdefault(
            customer, f"customer-{hashlib.sha256(customer.encode()).hexdigest()[:8]}@mail.demo"
        )
        mail = EmailMessage()
        mail["From"] = formataddr((customer, address))
        mail["To"] = ADDRESS
        mail["Subject"] = text if len(text) <= 40 else text[:39] + "…"
        mail["Message-ID"] = make_msgid(domain="mail.demo")
        mail.set_content(text)
        try:
            await forward_mail(
                mail.as_bytes(), host="127.0.0.1", port=self.smtp_port, mail_from=address, rcpt_to=ADDRESS
            )
        except aiosmtplib.SMTPResponseException as exc:
            return exc.code
        return 200

    def replies(self) -> list[tuple[str, str]]:
        names = {address: name for name, address in self.users.items()}
        out: list[tuple[str, str]] = []
        for mail in self.relay.received:
            message = mail.message
            assert isinstance(message, EmailMessage)  # parsed with the default policy
            to = parseaddr(str(message.get("To", "")))[1].lower()
            body = message.get_body(("plain",))
            text = str(body.get_content()).strip() if isinstance(body, EmailMessage) else ""
            out.append((names.get(to, to), text))
        return out

    async def stop(self) -> None:
        await self.relay.stop()
        await self.dns.stop()
