"""Local stand-ins for the mail world, for tests and demos (127.0.0.1 only).

* :class:`SmtpSink` — the relay bridgekit sends replies through: a real aiosmtpd SMTP
  server that keeps what it receives, and can be told to answer 4xx/5xx.
* :class:`DnsServer` — a UDP DNS server answering TXT queries from a dict (domain
  verification, DKIM keys), built with dnspython's wire format.
* :func:`forward_mail` — the customer's mailbox forwarding one raw mail to bridgekit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any, cast

import aiosmtplib
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiosmtpd.smtp import SMTP, Envelope, Session

from bridgekit.channelkit import SandboxServer


@dataclass(slots=True)
class ReceivedMail:
    """One mail the sink accepted: the SMTP envelope and the exact bytes."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data, policy=default_policy)


@dataclass(slots=True)
class _SinkHandler:
    received: list[ReceivedMail] = field(default_factory=list)
    answer: str | None = None  # e.g. "451 4.3.0 try later" or "550 5.1.1 no such user"
    answer_times: int | None = None  # how many more mails get ``answer``; None: all
    rcpt_answer: str | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.answer:
            answer = self.answer
            if self.answer_times is not None:
                self.answer_times -= 1
                if self.answer_times <= 0:
                    self.answer, self.answer_times = None, None
            return answer
        self.received.append(
            ReceivedMail(
                envelope.mail_from or "", list(envelope.rcpt_tos), bytes(envelope.original_content or b"")
            )
        )
        self.arrived.set()
        return "250 2.0.0 OK"


class SmtpSink(SandboxServer):
    """An SMTP relay on 127.0.0.1 that keeps every mail it accepts (``relay_host`` =
    :attr:`host`, ``relay_port`` = :attr:`port` once started)."""

    scheme = "smtp"

    def __init__(self) -> None:
        super().__init__()
        self.handler = _SinkHandler()
        self.server: asyncio.base_events.Server | None = None

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received

    def fail_with(self, answer: str | None, *, at: str = "DATA", times: int | None = None) -> None:
        """Answer the next transactions with ``answer`` at DATA or RCPT (``None``: accept);
        at DATA only the next ``times`` of them, when given."""
        if at == "RCPT":
            self.handler.rcpt_answer = answer
        else:
            self.handler.answer = answer
            self.handler.answer_times = times

    async def _listen(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SMTP(self.handler, hostname="relay.sandbox", enable_SMTPUTF8=True), host, port
        )
        return int(self.server.sockets[0].getsockname()[1])

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Wait until at least ``count`` mails arrived."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.handler.arrived.clear()
                await self.handler.arrived.wait()
        return self.received

    async def _close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.transport: asyncio.DatagramTransport | None = None
        self.queries: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        values = self.records.get(name)
        if values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            rrset = dns.rrset.from_text_list(
                question.name,
                60,
                dns.rdataclass.IN,
                dns.rdatatype.TXT,
                [_txt(v) for v in values],
            )
            response.answer.append(rrset)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


def _txt(value: str) -> str:
    # TXT strings hold at most 255 bytes: split long values (DKIM keys) into several strings.
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


class DnsServer(SandboxServer):
    """Authoritative-looking answers for TXT records: ``{"name.example": ["value", ...]}``."""

    scheme = "dns"

    def __init__(self, records: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.records: dict[str, list[str]] = {k.lower().rstrip("."): v for k, v in (records or {}).items()}
        self.protocol = _DnsProtocol(self.records)

    @property
    def address(self) -> str:
        """``<host>:<port>``, the form ``settings["dns_resolver"]`` takes."""
        return f"{self.host}:{self.port}"

    def set(self, name: str, values: list[str]) -> None:
        self.records[name.lower().rstrip(".")] = values

    async def _listen(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self.protocol, local_addr=(host, port))
        return int(transport.get_extra_info("sockname")[1])

    def lookup(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        """A ``dnsfunc`` for dkimpy's ``verify``: the TXT value of ``name``, or ``None``."""
        key = (name.decode() if isinstance(name, bytes) else name).lower().rstrip(".")
        values = self.records.get(key)
        return values[0].encode() if values else None

    async def _close(self) -> None:
        if self.protocol.transport is not None:
            self.protocol.transport.close()


async def forward_mail(raw: bytes, *, host: str, port: int, mail_from: str, rcpt_to: str | list[str]) -> str:
    """Deliver ``raw`` to bridgekit's SMTP server as a forwarding mailbox would.

    Returns the server's final reply text; a refusal raises the ``aiosmtplib`` error
    (``SMTPRecipientsRefused``, ``SMTPDataError``...) carrying the code.
    """
    rcpts = [rcpt_to] if isinstance(rcpt_to, str) else rcpt_to
    # The client object, not aiosmtplib.send(): a bounce has the empty sender <>.
    client = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=30)
    async with client:
        _, message = await client.sendmail(mail_from, rcpts, raw)
    return message
