"""A misconfigured SMS integration stops ``bridgekit serve`` with one line naming the key."""

from __future__ import annotations

from typing import Any

import pytest
from bridgekit.exceptions import ConfigError
from bridgekit.model import Integration

from bridgekit_sms.plugin import SmsPlugin


def check(settings: dict[str, Any], secrets: dict[str, str], defaults: dict[str, Any] | None = None) -> None:
    SmsPlugin().bridgekit_check_integration(Integration(0, "acme", "sms", settings, secrets), defaults or {})


TWILIO = {
    "twilio_account_sid": "AC1",
    "sender_number": "+14155550100",
    "registered_senders": ["+14155550100"],
}


def test_a_working_configuration_passes() -> None:
    check(TWILIO, {"twilio_auth_token": "t"})


@pytest.mark.parametrize(
    ("settings", "secrets", "words"),
    [
        ({"sender_number": "1588-1234"}, {}, "no provider is configured"),
        ({**TWILIO}, {}, "'twilio_auth_token'"),
        ({**TWILIO, "nhn_app_key": "k"}, {"twilio_auth_token": "t"}, "'nhn_secret_key'"),
        ({**TWILIO, "sender_number": "12"}, {"twilio_auth_token": "t"}, "'sender_number'"),
        ({**TWILIO, "registered_senders": ["nope"]}, {"twilio_auth_token": "t"}, "'registered_senders'"),
        ({**TWILIO, "sms_price": 3}, {"twilio_auth_token": "t"}, "did you mean 'sms_price_pu'"),
        ({**TWILIO, "sms_price_pu": -1}, {"twilio_auth_token": "t"}, "'sms_price_pu'"),
    ],
)
def test_a_misconfiguration_names_the_key(
    settings: dict[str, Any], secrets: dict[str, str], words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        check(settings, secrets)
    assert "SMS integration 'acme'" in str(caught.value)


def test_the_shared_number_and_registered_senders_come_from_the_plugin_section() -> None:
    defaults = {"shared_sender_number": "1588-1234", "registered_senders": ["1588-1234"]}
    check({"nhn_app_key": "k"}, {"nhn_secret_key": "s"}, defaults)


def test_the_start_banner_gives_the_mo_forwarding_url_with_its_token() -> None:
    plugin = SmsPlugin()
    settings = {"nhn_app_key": "k", "sender_number": "1588-1234"}
    integration = Integration(0, "acme", "sms", settings, {"nhn_secret_key": "s", "nhn_inbound_token": "tok"})
    address = plugin.bridgekit_inbound_address(integration, "https://bk.example")
    assert address == (
        "POST https://bk.example/hooks/acme (Twilio, NHN webhooks); "
        "NHN MO: POST https://bk.example/hooks/acme?token=tok"
    )
