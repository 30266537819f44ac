"""Sender-domain verification by DNS TXT record (E8) and DKIM signing.

Verification record (publish in the brand's DNS)::

    _bridgekit.brand.co.kr.  TXT  "bridgekit-verification=<domain_verification_token>"

DKIM record (from :func:`dkim_dns_record`)::

    <selector>._domainkey.brand.co.kr.  TXT  "v=DKIM1; k=rsa; p=<public key>"
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import dkim
import dns.asyncresolver
import dns.exception
import dns.resolver
from dkim.crypto import parse_pem_private_key

from bridgekit.channelkit import TTLCache

VERIFICATION_PREFIX = "bridgekit-verification="
VERIFICATION_LABEL = "_bridgekit"


def verification_record(domain: str, token: str) -> tuple[str, str]:
    """The TXT record (name, value) that proves control of ``domain``."""
    return f"{VERIFICATION_LABEL}.{domain}", f"{VERIFICATION_PREFIX}{token}"


def _resolver(address: str | None) -> dns.asyncresolver.Resolver:
    if not address:
        return dns.asyncresolver.Resolver()
    resolver = dns.asyncresolver.Resolver(configure=False)
    host, port = address, 53
    if address.count(":") == 1:  # "ip:port"; a bare IPv6 address has several colons
        host, port_text = address.rsplit(":", 1)
        port = int(port_text)
    elif address.startswith("[") and "]:" in address:
        host, port_text = address[1:].split("]:", 1)
        port = int(port_text)
    resolver.nameservers = [host]
    resolver.port = port
    return resolver


class DomainVerifier:
    """Checks the verification TXT record, caching the answer.

    A verified domain is re-checked after ``ttl`` seconds, an unverified one after
    ``negative_ttl``: a freshly published record is picked up within minutes, and a send
    does not wait on DNS each time. At most ``max_domains`` answers are kept.
    """

    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        negative_ttl: float = 300.0,
        timeout: float = 5.0,
        max_domains: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.timeout = timeout
        self._cache: TTLCache[tuple[str, str, str | None], bool] = TTLCache(max_domains, ttl, clock)

    async def lookup(self, domain: str, token: str, resolver_address: str | None) -> bool:
        """Ask DNS now (no cache): is the verification record published?"""
        name, expected = verification_record(domain, token)
        try:
            answer = await _resolver(resolver_address).resolve(name, "TXT", lifetime=self.timeout)
        except (dns.exception.DNSException, OSError):
            return False
        for rdata in answer:
            value = b"".join(rdata.strings).decode("utf-8", "replace").strip()
            if value == expected:
                return True
        return False

    async def is_verified(self, domain: str, token: str | None, resolver_address: str | None) -> bool:
        if not token:
            return False
        key = (domain, token, resolver_address)
        hit, cached = self._cache.get(key)
        if hit and cached is not None:
            return cached
        verified = await self.lookup(domain, token, resolver_address)
        self._cache.set(key, verified, self.ttl if verified else self.negative_ttl)
        return verified


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _der_int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # leading 0 keeps it positive
    return _der(0x02, body)


_RSA_ALGORITHM = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + _der(0x05, b""))


def dkim_public_key(private_key_pem: str | bytes) -> str:
    """Base64 SubjectPublicKeyInfo of an RSA private key: the ``p=`` of the DKIM record."""
    pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    key = parse_pem_private_key(pem)
    rsa_public = _der(0x30, _der_int(key["modulus"]) + _der_int(key["publicExponent"]))
    spki = _der(0x30, _RSA_ALGORITHM + _der(0x03, b"\x00" + rsa_public))
    return base64.b64encode(spki).decode()


def dkim_dns_record(selector: str, domain: str, private_key_pem: str | bytes) -> tuple[str, str]:
    """The DKIM TXT record (name, value) to publish for ``selector`` on ``domain``."""
    return f"{selector}._domainkey.{domain}", f"v=DKIM1; k=rsa; p={dkim_public_key(private_key_pem)}"


SIGNED_HEADERS = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"In-Reply-To", b"References",
    b"Reply-To", b"MIME-Version", b"Content-Type", b"Auto-Submitted",
)  # fmt: skip


def dkim_sign(message: bytes, *, selector: str, domain: str, private_key_pem: str | bytes) -> bytes:
    """``message`` with a ``DKIM-Signature`` (rsa-sha256, relaxed/relaxed) prepended."""
    pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    present = {
        line.split(b":", 1)[0].strip().lower() for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    }
    headers = [h for h in SIGNED_HEADERS if h.lower() in present]
    signature = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=headers,
    )
    return bytes(signature) + message
