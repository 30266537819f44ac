"""``ChannelSettings``: one declaration of an integration's settings and secrets, whose
mistakes are told at start-up naming the integration and the key, never a secret's value."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import pytest
from msgspec import Meta

from bridgekit.channelkit import ChannelSettings, HttpUrl, InvalidSetting, Secret
from bridgekit.exceptions import ConfigError
from bridgekit.model import Integration

TOKEN = "tok-5f1c0d9e8a7b"


class AcmeSettings(ChannelSettings, frozen=True, kw_only=True):
    channel_title = "Acme"

    api_base: HttpUrl = "https://api.acme.example"
    timeout: Annotated[float, Meta(gt=0)] = msgspec.field(default=10.0, name="timeout_seconds")
    mode: str = "push"
    api_token: Secret
    webhook_secret: Secret = ""

    def checked(self) -> AcmeSettings:
        if self.mode not in {"push", "reply"}:
            raise InvalidSetting("mode", "must be 'push' or 'reply'")
        return msgspec.structs.replace(self, api_base=self.api_base.rstrip("/"))


def acme(settings: dict[str, object] | None = None, secrets: dict[str, str] | None = None) -> Integration:
    return Integration(
        1, "acme", "acme", settings or {}, {"api_token": TOKEN} if secrets is None else secrets
    )


def refused(integration: Integration, defaults: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        AcmeSettings.from_integration(integration, defaults)
    return str(caught.value)


def test_a_minimal_integration_gets_the_declared_defaults_and_its_secrets() -> None:
    settings = AcmeSettings.from_integration(acme({"api_base": "http://127.0.0.1:9/"}))
    assert settings.api_base == "http://127.0.0.1:9"  # checked() normalised it
    assert (settings.timeout, settings.mode, settings.api_token, settings.webhook_secret) == (
        10.0,
        "push",
        TOKEN,
        "",
    )


def test_a_typo_in_a_setting_is_refused_with_the_key_it_probably_meant() -> None:
    message = refused(acme({"timout_seconds": 5}))
    assert (
        message
        == "Acme integration 'acme': unknown setting 'timout_seconds' (did you mean 'timeout_seconds'?)"
    )


def test_a_wrongly_typed_setting_names_the_key_and_the_expected_type() -> None:
    assert refused(acme({"timeout_seconds": "5"})) == (
        "Acme integration 'acme': setting 'timeout_seconds': expected float, got str"
    )
    assert "expected float > 0" in refused(acme({"timeout_seconds": 0}))
    assert "setting 'api_base': expected an http(s) URL" in refused(acme({"api_base": "ftp://x"}))


def test_a_rule_beyond_the_types_names_its_key() -> None:
    assert (
        refused(acme({"mode": "pull"})) == "Acme integration 'acme': setting 'mode' must be 'push' or 'reply'"
    )


def test_a_missing_secret_says_where_to_set_it() -> None:
    message = refused(acme(secrets={}))
    assert "missing secret 'api_token'" in message
    assert "[integrations.acme.secrets]" in message
    assert "BRIDGEKIT_INTEGRATION_ACME_API_TOKEN" in message
    assert "missing secret 'api_token'" in refused(acme(secrets={"api_token": ""}))  # empty is missing


def test_a_secret_under_settings_is_refused_without_repeating_its_value() -> None:
    message = refused(acme({"api_token": TOKEN}, secrets={}))
    assert "'api_token' is a secret" in message
    assert TOKEN not in message


def test_an_unknown_secret_and_a_setting_given_as_a_secret_are_refused() -> None:
    assert "unknown secret 'api_tokn' (did you mean 'api_token'?)" in refused(
        acme(secrets={"api_token": TOKEN, "api_tokn": TOKEN})
    )
    assert "'mode' is a setting, not a secret" in refused(acme(secrets={"api_token": TOKEN, "mode": "x"}))


def test_a_secret_of_the_wrong_shape_is_refused_without_its_value() -> None:
    class Strict(ChannelSettings, frozen=True, kw_only=True):
        token: Annotated[Secret, Meta(pattern="^ct_")]

    integration = Integration(1, "acme", "acme", {}, {"token": TOKEN})
    with pytest.raises(ConfigError) as caught:
        Strict.from_integration(integration)
    assert "secret 'token'" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_the_plugin_section_gives_defaults_the_integration_overrides() -> None:
    defaults = {"mode": "reply", "timeout_seconds": 3}
    settings = AcmeSettings.from_integration(acme({"timeout_seconds": 7}), defaults)
    assert (settings.mode, settings.timeout) == ("reply", 7.0)
    assert "unknown setting 'hostnme'" in refused(acme(), {"hostnme": "x"})


def test_settings_are_built_once_per_integration_object() -> None:
    integration = acme()
    first = AcmeSettings.from_integration(integration)
    assert AcmeSettings.from_integration(integration) is first  # a delivery pays a look-up
    assert AcmeSettings.from_integration(acme()) is not first  # a reloaded integration is checked again


def test_the_declared_keys_tell_secrets_from_settings() -> None:
    assert AcmeSettings.keys() == {
        "api_base": False,
        "timeout_seconds": False,
        "mode": False,
        "api_token": True,
        "webhook_secret": True,
    }


def test_a_choice_outside_a_literal_setting_names_the_choices() -> None:
    class Modes(ChannelSettings, frozen=True, kw_only=True):
        channel_title = "Acme"
        mode: Literal["push", "reply"] = "push"
        region: Annotated[Literal["kr", "jp"], Meta(description="where")] = "kr"

    def message(settings: dict[str, object]) -> str:
        with pytest.raises(ConfigError) as caught:
            Modes.from_integration(Integration(1, "acme", "acme", settings, {}))
        return str(caught.value)

    assert message({"mode": "pull"}) == (
        "Acme integration 'acme': setting 'mode': invalid enum value 'pull': must be one of 'push', 'reply'"
    )
    assert message({"region": "us"}).endswith("must be one of 'kr', 'jp'")
