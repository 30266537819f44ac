"""IP addresses and networks as bridgekit reads them, for the core and for plugins.

Who sent a request is an address string from a socket or a proxy's ``X-Forwarded-For``
(``RawDelivery.remote``); who may is a list of networks from a setting (the core's
``[server] trusted_proxies``, a plugin's allow-list). Both are read here, one way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from bridgekit.exceptions import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> IPAddress | None:
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


def parse_networks(entries: Iterable[object], where: str) -> tuple[IPNetwork, ...]:
    """Addresses and networks (``"10.0.0.0/8"``, ``"::1"``, ``"192.0.2.7"``) as networks;
    anything else is a :class:`ConfigError` that names ``where`` (the setting) and the entry."""
    networks: list[IPNetwork] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ConfigError(f"{where}[] has the wrong type: {type(entry).__name__}")
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f'{where}: {entry!r} is not an address or a network like "10.0.0.0/8"'
            ) from None
    return tuple(networks)
