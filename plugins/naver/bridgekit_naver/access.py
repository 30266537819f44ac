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

from bridgekit.addresses import parse_address
from bridgekit.exceptions import ConfigError, SignatureError
from bridgekit.model import Integration, RawDelivery
from bridgekit_naver.networks import allowed_networks
from bridgekit_naver.settings import NaverSettings

__all__ = ["allowed_networks", "verify_delivery", "verify_source", "verify_token"]


def verify_delivery(integration: Integration, delivery: RawDelivery) -> NaverSettings:
    """Raise :class:`SignatureError` unless ``delivery`` may come from TalkTalk; return the
    integration's settings.

    Checks the secret path token first (so a wrong token and a wrong address look the same
    to a prober: 401) and then the optional source-address allow-list. An integration whose
    settings do not check out (start-up refuses it) rejects everything: failing open would
    make the endpoint writable by anyone who guesses the integration's name.
    """
    try:
        settings = NaverSettings.from_integration(integration)
    except ConfigError as exc:
        raise SignatureError(str(exc)) from None
    verify_token(settings, delivery)
    verify_source(settings, delivery)
    return settings


def verify_token(settings: NaverSettings, delivery: RawDelivery) -> None:
    """Compare ``?token=`` with ``secrets.path_token`` in constant time."""
    given = delivery.query.get("token")
    if not given:
        raise SignatureError("missing ?token= on the TalkTalk webhook URL")
    # compare_digest on str only accepts ASCII; bytes work for any token.
    if not hmac.compare_digest(given.encode("utf-8"), settings.path_token.encode("utf-8")):
        raise SignatureError("wrong ?token= on the TalkTalk webhook URL")


def verify_source(settings: NaverSettings, delivery: RawDelivery) -> None:
    """Check ``delivery.remote`` against ``settings.allowed_ips`` when that is set."""
    networks = settings.networks
    if not networks:
        return
    if not delivery.remote:
        raise SignatureError("source address unknown and settings.allowed_ips is set")
    address = parse_address(delivery.remote)
    if address is None:
        raise SignatureError(f"source address {delivery.remote!r} is not an IP address")
    if not any(address in net for net in networks):
        raise SignatureError(f"source address {address} is not in settings.allowed_ips")
