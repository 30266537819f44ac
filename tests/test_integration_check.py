"""A misconfigured integration stops ``bridgekit serve`` before it listens, with one line
naming the integration and the key, never a secret's value (``bridgekit_check_integration``
and ``bridgekit.channelkit.ChannelSettings``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridgekit.config import IntegrationConfig
from bridgekit.exceptions import ConfigError
from bridgekit.plugins import PluginHost

ACCESS_TOKEN = "line-access-token-8c1f5e2a"

#: channel -> (settings, secrets) of a minimal integration that works
MINIMAL: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "line": ({}, {"channel_secret": "s" * 32, "channel_access_token": ACCESS_TOKEN}),
    "instagram": ({}, {"app_secret": "a", "verify_token": "v", "access_token": "t"}),
    "naver": ({"allowed_ips": "naver"}, {"path_token": "p", "authorization_key": "k"}),
    "email": ({"address": "acme@in.example"}, {}),
}


def shipped_plugins() -> PluginHost:
    host = PluginHost()
    host.load_entry_points(["line", "instagram", "naver", "email_forward"])
    return host


def check(channel: str, settings: dict[str, Any], secrets: dict[str, str]) -> None:
    shipped_plugins().check_integrations([IntegrationConfig("acme", channel, settings, secrets)], {})


@pytest.mark.parametrize("channel", sorted(MINIMAL))
def test_every_shipped_channel_accepts_its_minimal_integration(channel: str) -> None:
    check(channel, *MINIMAL[channel])


@pytest.mark.parametrize("channel", sorted(MINIMAL))
def test_every_shipped_channel_refuses_a_typo_naming_the_key(channel: str) -> None:
    settings, secrets = MINIMAL[channel]
    with pytest.raises(ConfigError, match=r"integration 'acme': unknown setting 'tiemout'"):
        check(channel, {**settings, "tiemout": 5}, secrets)


@pytest.mark.parametrize(
    ("channel", "settings", "message"),
    [
        ("line", {"reply_token_max_age": 90}, "setting 'reply_token_max_age' must stay below"),
        ("line", {"api_base": "api.line.me"}, r"setting 'api_base': expected an http\(s\) URL"),
        ("instagram", {"auth": "cookie"}, "setting 'auth': invalid enum value 'cookie'"),
        (
            "naver",
            {"allowed_ips": ["10.0.0.0/33"]},
            "setting 'allowed_ips'.*'10.0.0.0/33' is not an address or a network",
        ),
        ("email", {"address": "nobody"}, "setting 'address' must be the integration's inbound email"),
        (
            "email",
            {"address": "a@b.example", "smtp_port": "25"},
            "setting 'smtp_port': expected int, got str",
        ),
    ],
)
def test_wrong_values_are_refused_at_start_up(channel: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check(channel, {**MINIMAL[channel][0], **settings}, MINIMAL[channel][1])


def test_the_email_plugin_section_is_checked_with_each_integration() -> None:
    cfg = IntegrationConfig("acme", "email", {"address": "acme@in.example"}, {})
    with pytest.raises(ConfigError, match=r"unknown setting 'relay_prot' \(did you mean 'relay_port'\?\)"):
        shipped_plugins().check_integrations([cfg], {"email_forward": {"relay_prot": 587}})


@pytest.mark.slow
def test_bridgekit_serve_stops_with_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bridgekit.toml"
    config.write_text(
        '[server]\nport = 0\n[plugins]\nenabled = ["line"]\n'
        '[integrations.acme]\nchannel = "line"\n'
        '[integrations.acme.secrets]\nchanel_secret = "0123456789abcdef"\n'
        f'channel_access_token = "{ACCESS_TOKEN}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEKIT_")}
    done = subprocess.run(
        [sys.executable, "-m", "bridgekit.cli", "serve", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a server that started would never return
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "bridgekit: LINE integration 'acme': unknown secret 'chanel_secret' (did you mean 'channel_secret'?)"
    ]
    assert "0123456789abcdef" not in done.stdout + done.stderr
    assert ACCESS_TOKEN not in done.stdout + done.stderr
    assert not (tmp_path / "bridgekit.db").exists()  # refused before anything was stored
    assert "listening" not in done.stdout  # it never listened: nothing may say it does
