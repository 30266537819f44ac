"""Configuration: a TOML file, embedded defaults, and environment overrides for secrets.

With no file at all bridgekit runs on a SQLite file in the working directory and loopback
ports. Secrets never have to live in the file: ``BRIDGEKIT_INTEGRATION_<NAME>_<SECRET>``
overrides ``[integrations.<name>.secrets] <secret>`` (names upper-cased, every character
that is not a letter or digit replaced by ``_``), and ``BRIDGEKIT_DATABASE_URL`` overrides
the database URL.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridgekit.exceptions import ConfigError

DEFAULT_DB_FILE = "bridgekit.db"


@dataclass(frozen=True, slots=True)
class IntegrationConfig:
    name: str
    channel: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 600.0
    poll_interval: float = 1.0
    lease_seconds: float = 120.0
    concurrency: int = 16


@dataclass(frozen=True, slots=True)
class Config:
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_DB_FILE}"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    data_dir: Path = Path("bridgekit-data")
    enabled_plugins: tuple[str, ...] | None = None
    plugin_modules: tuple[str, ...] = ()
    plugin_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    integrations: tuple[IntegrationConfig, ...] = ()
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    max_body_bytes: int = 32 * 1024 * 1024
    # SQLite: how long a webhook's commit waits for another process's write lock before the
    # provider is told to come back (503); LINE, for one, gives up after 2 s.
    ingest_busy_timeout: float = 1.5
    source: Path | None = None

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def env_secret_name(integration: str, secret: str) -> str:
    def norm(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9]", "_", text).upper()

    return f"BRIDGEKIT_INTEGRATION_{norm(integration)}_{norm(secret)}"


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}{key} must be a table")
    return value


def _typed(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} has the wrong type: {value!r}")
    return value


def parse_config(
    data: Mapping[str, Any], *, source: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Build a :class:`Config` from parsed TOML (tested without touching the filesystem)."""
    env = os.environ if env is None else env
    base = source.parent if source else Path.cwd()
    known = {"database", "server", "plugins", "integrations", "outbox", "data_dir"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown configuration section(s): {', '.join(sorted(unknown))}")

    database = _table(data, "database", "")
    url = env.get("BRIDGEKIT_DATABASE_URL") or database.get("url")
    if url is None:
        url = f"sqlite+aiosqlite:///{base / DEFAULT_DB_FILE}"
    _typed(url, str, "database.url")
    busy_timeout = float(
        _typed(database.get("ingest_busy_timeout", 1.5), (int, float), "database.ingest_busy_timeout")
    )
    if not 0 < busy_timeout <= 60:
        raise ConfigError("database.ingest_busy_timeout must be between 0 and 60 seconds")

    server = _table(data, "server", "")
    host = _typed(server.get("host", "127.0.0.1"), str, "server.host")
    port = _typed(server.get("port", 8080), int, "server.port")
    public_url = server.get("public_url")
    max_body = _typed(server.get("max_body_bytes", 32 * 1024 * 1024), int, "server.max_body_bytes")

    plugins = _table(data, "plugins", "")
    enabled = plugins.get("enabled")
    if enabled is not None:
        enabled = tuple(
            _typed(name, str, "plugins.enabled[]") for name in _typed(enabled, list, "plugins.enabled")
        )
    modules = tuple(_typed(m, str, "plugins.modules[]") for m in plugins.get("modules", []))
    plugin_settings = {
        name: _typed(value, Mapping, f"plugins.settings.{name}")
        for name, value in _table(plugins, "settings", "plugins.").items()
    }

    integrations = []
    for name, spec in _table(data, "integrations", "").items():
        where = f"integrations.{name}"
        _typed(spec, Mapping, where)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
            raise ConfigError(f"{where}: integration names are letters, digits, '_', '.', '-' (max 100)")
        channel = _typed(spec.get("channel"), str, f"{where}.channel")
        settings = dict(_table(spec, "settings", f"{where}."))
        secrets = {k: str(v) for k, v in _table(spec, "secrets", f"{where}.").items()}
        prefix = env_secret_name(name, "")
        for key, value in env.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                secret = key[len(prefix) :].lower()
                secrets[secret] = value
        integrations.append(IntegrationConfig(name, channel, settings, secrets))

    outbox_data = _table(data, "outbox", "")
    try:
        outbox = OutboxConfig(**outbox_data)
    except TypeError as exc:
        raise ConfigError(f"outbox: {exc}") from exc

    data_dir = Path(_typed(data.get("data_dir", "bridgekit-data"), str, "data_dir"))
    if not data_dir.is_absolute():
        data_dir = base / data_dir

    return Config(
        database_url=url,
        host=host,
        port=port,
        public_url=public_url,
        data_dir=data_dir,
        enabled_plugins=enabled,
        plugin_modules=modules,
        plugin_settings=plugin_settings,
        integrations=tuple(integrations),
        outbox=outbox,
        max_body_bytes=max_body,
        ingest_busy_timeout=busy_timeout,
        source=source,
    )


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (TOML); ``None`` gives the embedded defaults."""
    if path is None:
        return parse_config({}, env=env)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data, source=path.resolve(), env=env)
