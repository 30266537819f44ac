"""Naver's webhook source addresses and the ``allowed_ips`` setting's parser."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from bridgekit.addresses import IPNetwork, parse_networks
from bridgekit.exceptions import ConfigError

#: Where Naver's webhook calls come from, per the Chat Bot API README (for documentation
#: and for ``allowed_ips = "naver"``).
NAVER_WEBHOOK_NETWORKS: tuple[str, ...] = ("117.52.141.192/27",)


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
    named = (NAVER_WEBHOOK_NETWORKS if entry.lower() == "naver" else (entry,) for entry in entries)
    return parse_networks([cidr for cidrs in named for cidr in cidrs], "settings.allowed_ips")
