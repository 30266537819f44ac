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
from collections.abc import Sequence

from aiohttp import web

from bridgekit.addresses import IPNetwork, parse_address

#: More hops than any real chain of proxies: a longer header is read only this far from the right.
MAX_HOPS = 16


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
