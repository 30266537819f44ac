"""Who may post to a TalkTalk webhook.

TalkTalk signs nothing: its webhook requests carry no signature header and no secret. The
only protection the platform leaves us is the URL we register in the partner center, so
the integration's webhook URL carries a long random token
(``https://host/hooks/<integration>?token=<secret>``), compared here in constant time.
Naver publishes the address range its webhook calls come from (117.52.141.192/27, in the
Chat Bot API README under "Webhook 요구 사항"), so an optional allow-list of CIDRs narrows
it further.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from bridgekit.exceptions import ConfigError, SignatureError
from bridgekit.model import Integration, RawDelivery

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Where Naver's webhook calls come from, per the Chat Bot API README (for documentation
#: and for ``allowed_ips = "naver"``).
NAVER_WEBHOOK_NETWORKS: tuple[str, ...] = ("117.52.141.192/27",)


def verify_delivery(integration: Integration, delivery: RawDelivery) -> None:
    """Raise :class:`SignatureError` unless ``delivery`` may come from TalkTalk.

    Checks the secret path token first (so a wrong token and a wrong address look the same
    to a prober: 401) and then the optional source-address allow-list.
    """
    verify_token(integration, delivery)
    verify_source(integration, delivery)


def verify_token(integration: Integration, delivery: RawDelivery) -> None:
    """Compare ``?token=`` with ``secrets.path_token`` in constant time.

    An integration without a ``path_token`` rejects everything: failing open would make
    the endpoint writable by anyone who guesses the integration's name.
    """
    expected = integration.secrets.get("path_token") or ""
    if not expected:
        raise SignatureError(f"integration {integration.name!r} has no secrets.path_token configured")
    given = delivery.query.get("token")
    if not given:
        raise SignatureError("missing ?token= on the TalkTalk webhook URL")
    # compare_digest on str only accepts ASCII; bytes work for any token.
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise SignatureError("wrong ?token= on the TalkTalk webhook URL")


def verify_source(integration: Integration, delivery: RawDelivery) -> None:
    """Check ``delivery.remote`` against ``settings.allowed_ips`` when that is set."""
    networks = allowed_networks(integration.settings.get("allowed_ips"))
    if not networks:
        return
    if not delivery.remote:
        raise SignatureError("source address unknown and settings.allowed_ips is set")
    try:
        address: IPAddress = ipaddress.ip_address(delivery.remote.strip("[]").split("%")[0])
    except ValueError:
        raise SignatureError(f"source address {delivery.remote!r} is not an IP address") from None
    # An IPv4 client reaching a dual-stack socket shows up as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not any(address in net for net in networks):
        raise SignatureError(f"source address {address} is not in settings.allowed_ips")


def allowed_networks(setting: object) -> tuple[IPNetwork, ...]:
    """Parse ``allowed_ips``: a list of CIDRs, a comma-separated string, or ``"naver"``.

    An invalid entry is a configuration error, raised loudly rather than silently
    weakening (or blocking) the endpoint.
    """
    if setting is None or setting == "" or setting == []:
        return ()
    if isinstance(setting, str):
        entries: Iterable[object] = [part for part in setting.split(",") if part.strip()]
    elif isinstance(setting, list | tuple):
        entries = setting
    else:
        raise ConfigError(f"settings.allowed_ips must be a list of CIDRs, not {type(setting).__name__}")
    return _parse(tuple(str(entry).strip() for entry in entries))


@lru_cache(maxsize=64)
def _parse(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for entry in entries:
        if entry.lower() == "naver":
            networks.extend(ipaddress.ip_network(cidr) for cidr in NAVER_WEBHOOK_NETWORKS)
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigError(f"settings.allowed_ips: {entry!r} is not an IP network ({exc})") from None
    return tuple(networks)
