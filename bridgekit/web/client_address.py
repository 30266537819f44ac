"""The client's address: the TCP peer's, or behind a trusted reverse proxy, the one it forwarded.

Behind a reverse proxy every request's TCP peer is the proxy, so per-address limits (sign-in,
customer links, connections) would count every client as one, and a channel's source-address
allow-list (Naver's ``allowed_ips``) would see only the proxy. The proxy names its own peer in
``X-Forwarded-For``, appended to whatever that header held already (nginx's
``$proxy_add_x_forwarded_for``; Caddy and Traefik do it by default).

bridgekit believes that header only when the TCP peer is in ``[server] trusted_proxies``, and
reads it from the right: every address a trusted proxy appended is skipped and the first one
that is not trusted is the client. What a client wrote into the header itself stays on the left
of the address its first proxy appended, so it is never read (nginx's ``real_ip_recursive``).
With no trusted proxies (the default) the header is ignored and nothing is parsed.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from aiohttp import web

from bridgekit.config import IPNetwork

#: More hops than any real chain of proxies: a longer header is read only this far from the right.
MAX_HOPS = 16


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a proxy or a socket writes it (``203.0.113.7``, ``203.0.113.7:4711``,
    ``2001:db8::1``, ``[2001:db8::1]:4711``, ``fe80::1%eth0``, ``::ffff:203.0.113.7``, which
    is taken as the IPv4 address it maps); ``None`` if it is not one."""
    text = text.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1, as a dual-stack socket names IPv4 peers
    return address


class TrustedProxies:
    """The networks whose ``X-Forwarded-For`` is believed (``[server] trusted_proxies``)."""

    def __init__(self, networks: Sequence[IPNetwork] = ()) -> None:
        self.networks = tuple(networks)
        # One look-up per request once a peer was seen: proxies are few and keep their address.
        self.trusts = functools.lru_cache(maxsize=4096)(self._trusts)

    def _trusts(self, address: str) -> bool:
        parsed = parse_address(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client_of(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client's address for a request from ``peer`` carrying ``forwarded_for``."""
        if peer is None or not forwarded_for or not self.networks or not self.trusts(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")[-MAX_HOPS:]):
            parsed = parse_address(hop)
            if parsed is None:
                break  # not written by a proxy we trust: the last trusted hop is all we know
            client = str(parsed)
            if not self.trusts(client):
                break
        return client


#: The app's trusted proxies (``bridgekit.web.app.create_app`` sets it).
TRUSTED_PROXIES: web.AppKey[TrustedProxies] = web.AppKey("trusted_proxies")


def client_address(request: web.Request) -> str | None:
    """The address of whoever sent ``request`` (module doc): use it for every per-client
    limit, log line and stored delivery, never ``request.remote`` itself."""
    # On every webhook: an item and an attribute, no call, when nobody is trusted (the default).
    proxies = request.app[TRUSTED_PROXIES]
    if not proxies.networks:
        return request.remote
    return proxies.client_of(request.remote, request.headers.get("X-Forwarded-For"))
