"""The ``email`` channel passes bridgekit's shared channel conformance suite.

Mail does not come in over HTTP: the kit forwards each customer mail over SMTP to the
plugin's own listener (as a forwarding mailbox does) and reads SMTP's answers (250 accepted,
451 try again later). A "forged" delivery is a mail posted to the integration's webhook URL:
over HTTP nothing vouches for it, so it is refused. Replies leave through a local relay sink,
which can answer 451 on demand.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiohttp
import aiosmtplib
import pytest
from bridgekit_email_forward.plugin import CHANNEL, EmailForwardPlugin
from bridgekit_email_forward.sandbox import SmtpSink, forward_mail

from bridgekit.model import InboxSlot
from bridgekit.testing.conformance import ChannelConformance, ConformanceKit

ADDRESS = "support@in.bridgekit.test"  # the integration's forwarding address
CUSTOMER = "customer@mail.bridgekit.test"
SMTP_ACCEPTED = 250
SMTP_TRY_LATER = 451


class EmailKit(ConformanceKit):
    """Drives the SMTP listener and the relay sink; one fresh plugin per test."""

    __test__ = False
    plugin: EmailForwardPlugin

    def __init__(self, relay: SmtpSink) -> None:
        self.relay = relay
        self.plugin = EmailForwardPlugin()
        self.channel = CHANNEL
        self.inbox_slot = InboxSlot.EMAIL
        self.integration = {
            "channel": CHANNEL,
            "settings": {
                "address": ADDRESS,
                "smtp_host": "127.0.0.1",
                "smtp_port": 0,  # any free port: the plugin reports the one it got
                "relay_host": relay.host,
                "relay_port": relay.port,
                "relay_tls": "none",
                "default_from": "Support <support@bridgekit.test>",
            },
        }
        self._mails: dict[str, bytes] = {}  # the mail first sent under each key

    def mail_for(self, key: str, text: str) -> bytes:
        """The customer's mail; the same key is the same mail (Message-ID), resent."""
        if key not in self._mails:
            mail = EmailMessage()
            mail["From"] = f"Customer <{CUSTOMER}>"
            mail["To"] = ADDRESS
            mail["Subject"] = "A question"
            mail["Message-ID"] = f"<{key}@mail.bridgekit.test>"
            mail.set_content(text)
            self._mails[key] = mail.as_bytes()
        return self._mails[key]

    async def post_customer_message(self, hook_url: str, key: str, text: str) -> int:
        port = self.plugin.smtp.port_for(ADDRESS)
        try:
            await forward_mail(
                self.mail_for(key, text), host="127.0.0.1", port=port, mail_from=CUSTOMER, rcpt_to=ADDRESS
            )
        except aiosmtplib.SMTPResponseException as exc:
            return exc.code
        return SMTP_ACCEPTED

    async def post_forged_message(self, hook_url: str, text: str) -> int:
        body = self.mail_for("forged", text)
        async with aiohttp.ClientSession() as session, session.post(hook_url, data=body) as resp:
            return resp.status

    def delivered_texts(self) -> list[str]:
        texts: list[str] = []
        for mail in self.relay.received:
            message = mail.message
            assert isinstance(message, EmailMessage)  # parsed with the default policy
            body = message.get_body(("plain",))
            texts.append(str(body.get_content()).strip() if isinstance(body, EmailMessage) else "")
        return texts

    def fail_next_sends(self, count: int) -> None:
        self.relay.fail_with(f"{SMTP_TRY_LATER} 4.3.0 Try again later", times=count)

    def accepted(self, answer: int) -> bool:
        return answer == SMTP_ACCEPTED

    def asks_for_redelivery(self, answer: int) -> bool:
        return answer == SMTP_TRY_LATER


class TestEmailConformance(ChannelConformance):
    @pytest.fixture
    def kit(self, relay: SmtpSink) -> ConformanceKit:
        return EmailKit(relay)
