"""Configuration: embedded defaults, TOML, and secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridgekit.config import env_secret_name, load_config, parse_config
from bridgekit.exceptions import ConfigError


def test_no_configuration_means_a_sqlite_file_in_the_working_directory_on_loopback(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, env={})
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path / 'bridgekit.db'}"
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert config.enabled_plugins is None  # every installed plugin


def test_toml_integrations_with_secrets_overridden_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "bridgekit.toml"
    path.write_text(
        """
[database]
url = "postgresql+asyncpg://bk@db/bk"
[plugins]
enabled = ["line"]
[integrations.acme-line]
channel = "line"
settings = { api_base = "http://127.0.0.1:9" }
secrets = { channel_secret = "from-file", channel_access_token = "tok" }
"""
    )
    env = {env_secret_name("acme-line", "channel_secret"): "from-env"}
    assert env_secret_name("acme-line", "channel_secret") == "BRIDGEKIT_INTEGRATION_ACME_LINE_CHANNEL_SECRET"
    config = load_config(path, env=env)
    (integration,) = config.integrations
    assert integration.secrets == {"channel_secret": "from-env", "channel_access_token": "tok"}
    assert integration.stored_secrets == {"channel_access_token": "tok"}  # the rest stays in memory
    assert integration.settings == {"api_base": "http://127.0.0.1:9"}
    assert config.enabled_plugins == ("line",)
    assert config.data_dir == tmp_path / "bridgekit-data"


def test_database_url_from_the_environment_wins() -> None:
    config = parse_config(
        {"database": {"url": "sqlite:///a.db"}}, env={"BRIDGEKIT_DATABASE_URL": "sqlite:///b.db"}
    )
    assert config.database_url == "sqlite:///b.db"


def test_the_metrics_token_comes_from_the_file_or_the_environment() -> None:
    assert parse_config({}, env={}).metrics_token is None
    in_file = {"server": {"metrics_token": "from-file"}}
    assert parse_config(in_file, env={}).metrics_token == "from-file"
    assert parse_config(in_file, env={"BRIDGEKIT_METRICS_TOKEN": "from-env"}).metrics_token == "from-env"


def test_the_ingest_busy_timeout_is_configurable() -> None:
    assert parse_config({}, env={}).ingest_busy_timeout == 1.5
    assert parse_config({"database": {"ingest_busy_timeout": 0.5}}, env={}).ingest_busy_timeout == 0.5


def test_the_group_commits_fill_wait_is_configurable_and_can_be_turned_off() -> None:
    assert parse_config({}, env={}).ingest_fill_wait == 0.025
    assert parse_config({"database": {"ingest_fill_wait": 0}}, env={}).ingest_fill_wait == 0.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"srever": {}}, "unknown configuration section"),
        ({"server": {"port": "80"}}, "server.port has the wrong type"),
        ({"server": {"metrics_token": 123456789}}, "server.metrics_token has the wrong type: int"),
        ({"integrations": {"bad name!": {"channel": "line"}}}, "integration names are"),
        ({"integrations": {"x": {}}}, "integrations.x.channel has the wrong type"),
        ({"outbox": {"max_attemps": 3}}, "outbox:"),
        ({"database": {"ingest_busy_timeout": "1s"}}, "database.ingest_busy_timeout has the wrong type"),
        ({"database": {"ingest_busy_timeout": 0}}, "between 0 and 60 seconds"),
        ({"database": {"ingest_fill_wait": 1}}, "ingest_fill_wait must be between 0 and 0.05 seconds"),
    ],
)
def test_mistakes_are_reported_clearly(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, env={})


def test_a_wrongly_typed_value_is_not_repeated_in_the_error() -> None:
    """The value may be a secret (a metrics token written as a number): say the type only."""
    with pytest.raises(ConfigError) as caught:
        parse_config({"server": {"metrics_token": 987654321987}}, env={})
    assert "987654321987" not in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_secret_keys_from_the_environment_new_first() -> None:
    env = {"BRIDGEKIT_SECRET_KEY": "new", "BRIDGEKIT_SECRET_KEY_OLD": "old1, old2"}
    assert parse_config({}, env=env).secret_keys == ("new", "old1", "old2")
    assert parse_config({}, env={}).secret_keys == ()
    with pytest.raises(ConfigError, match="BRIDGEKIT_SECRET_KEY_OLD is set without"):
        parse_config({}, env={"BRIDGEKIT_SECRET_KEY_OLD": "old"})
