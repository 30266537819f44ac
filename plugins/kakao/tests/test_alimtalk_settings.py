"""A misconfigured Alimtalk integration stops ``bridgekit serve`` with one line naming the key,
never a secret's value."""

from __future__ import annotations

from typing import Any

import pytest
from bridgekit.exceptions import ConfigError
from bridgekit.model import Integration

from bridgekit_kakao.plugin import CHANNEL, KakaoPlugin

GOOD = {"app_key": "appkey-1", "sender_key": "k" * 40}
SECRET = {"secret_key": "do-not-print-me"}


def check(settings: dict[str, Any], secrets: dict[str, str]) -> None:
    KakaoPlugin().bridgekit_check_integration(Integration(0, "alimtalk", CHANNEL, settings, secrets), {})


def test_a_working_configuration_passes() -> None:
    check(GOOD, SECRET)


@pytest.mark.parametrize(
    ("settings", "secrets", "words"),
    [
        (GOOD, {}, "'secret_key'"),
        ({**GOOD, "sender_key": "short"}, SECRET, "40-character sender key"),
        ({**GOOD, "app_key": ""}, SECRET, "'app_key'"),
        ({**GOOD, "price": 7}, SECRET, "did you mean 'price_pu'"),
        ({**GOOD, "price_pu": -1}, SECRET, "'price_pu'"),
        ({**GOOD, "api_base": "ftp://nhn"}, SECRET, "'api_base'"),
    ],
)
def test_a_bad_setting_is_one_clear_line(
    settings: dict[str, Any], secrets: dict[str, str], words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as refused:
        check(settings, secrets)
    assert "do-not-print-me" not in str(refused.value)
