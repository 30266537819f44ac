"""Configuration: a TOML file, embedded defaults, and environment overrides for secrets.

With no file at all bridgekit runs on a SQLite file in the working directory and loopback
ports. Secrets never have to live in the file: ``BRIDGEKIT_INTEGRATION_<NAME>_<SECRET>``
overrides ``[integrations.<name>.secrets] <secret>`` (names upper-cased, every character
that is not a letter or digit replaced by ``_``), and ``BRIDGEKIT_DATABASE_URL`` overrides
the database URL. Secrets given only through the environment are kept in memory, never
stored. ``BRIDGEKIT_SECRET_KEY`` (and ``BRIDGEKIT_SECRET_KEY_OLD``) give the key that encrypts
stored secrets (bridgekit.storage.secret_box). ``BRIDGEKIT_METRICS_TOKEN``
overrides ``[server] metrics_token``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridgekit.addresses import IPNetwork, parse_networks
from bridgekit.exceptions import ConfigError

DEFAULT_DB_FILE = "bridgekit.db"


@dataclass(frozen=True, slots=True)
class IntegrationConfig:
    name: str
    channel: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    # names of the secrets that came from the environment: used in memory, never stored
    env_secrets: frozenset[str] = frozenset()

    @property
    def stored_secrets(self) -> dict[str, str]:
        return {k: v for k, v in self.secrets.items() if k not in self.env_secrets}


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    """Delivery retries: a failing send is retried with backoff (``base_delay`` doubling up to
    ``max_delay``) for ``retry_for`` seconds after it was queued, then marked failed."""

    retry_for: float = 6 * 3600.0
    base_delay: float = 1.0
    max_delay: float = 600.0
    poll_interval: float = 1.0
    lease_seconds: float = 120.0
    concurrency: int = 16


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """``[limits]``: what one client may cost the server before it is authenticated.

    Addresses are the client's: the TCP peer's, or behind a proxy in ``[server]
    trusted_proxies`` the one it forwarded (``bridgekit.web.client_address``). A trusted
    proxy's own connections are not capped by ``connections_per_address``.
    """

    webhook_body_bytes: int = 1024 * 1024  # channels that declare no max_body_bytes
    upload_request_bytes: int = 1024**3 + 2 * 1024 * 1024  # one file of 1 GiB plus its payload
    header_timeout: float = 10.0  # from connect until the first request's headers are in
    keepalive_timeout: float = 75.0  # idle between requests (and headers of a later one)
    body_timeout: float = 15.0  # a webhook or JSON body must arrive whole within this
    connections_per_address: int = 64
    link_failures: str = "20/10minutes"  # wrong customer-link tokens per address
    customer_posts: str = "30/minute"  # messages and form answers per customer link
    sign_in_failures: str = "5/15minutes"  # wrong passwords per account (email)
    sign_in_address_failures: str = "30/15minutes"  # wrong passwords per address, any account


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
    media_url_ttl: int = 3600
    metrics_token: str | None = None  # a bearer token for /metrics and /health's details
    # Reverse proxies whose X-Forwarded-For is believed (bridgekit.web.client_address).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    # SQLite: how long a webhook's commit waits for another process's write lock before the
    # provider is told to come back (503); LINE, for one, gives up after 2 s.
    ingest_busy_timeout: float = 1.5
    # PostgreSQL with ``serve --workers N``: the longest a worker's group commit waits for more
    # deliveries when its last one was small (ingest/pipeline.py, FILL_TARGET).
    ingest_fill_wait: float = 0.025
    source: Path | None = None
    # BRIDGEKIT_SECRET_KEY then BRIDGEKIT_SECRET_KEY_OLD; empty: the key file in data_dir
    secret_keys: tuple[str, ...] = ()

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
        # The type, never the value: the value may be a secret (metrics_token).
        raise ConfigError(f"{where} has the wrong type: {type(value).__name__}")
    return value


def parse_config(
    data: Mapping[str, Any], *, source: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Build a :class:`Config` from parsed TOML (tested without touching the filesystem)."""
    env = os.environ if env is None else env
    base = source.parent if source else Path.cwd()
    known = {"database", "server", "plugins", "integrations", "outbox", "limits", "data_dir"}
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
    fill_wait = float(
        _typed(database.get("ingest_fill_wait", 0.025), (int, float), "database.ingest_fill_wait")
    )
    if not 0 <= fill_wait <= 0.05:  # far below any provider's timeout
        raise ConfigError("database.ingest_fill_wait must be between 0 and 0.05 seconds")

    server = _table(data, "server", "")
    host = _typed(server.get("host", "127.0.0.1"), str, "server.host")
    port = _typed(server.get("port", 8080), int, "server.port")
    public_url = server.get("public_url")
    max_body = _typed(server.get("max_body_bytes", 32 * 1024 * 1024), int, "server.max_body_bytes")
    media_url_ttl = _typed(server.get("media_url_ttl", 3600), int, "server.media_url_ttl")
    if media_url_ttl < 1:
        raise ConfigError("server.media_url_ttl must be at least 1 (seconds)")
    metrics_token = env.get("BRIDGEKIT_METRICS_TOKEN") or server.get("metrics_token")
    if metrics_token is not None:
        _typed(metrics_token, str, "server.metrics_token")
    trusted_proxies = parse_networks(
        _typed(server.get("trusted_proxies", []), list, "server.trusted_proxies"), "server.trusted_proxies"
    )

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
        from_env = set()
        for key, value in env.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                secret = key[len(prefix) :].lower()
                secrets[secret] = value
                from_env.add(secret)
        integrations.append(IntegrationConfig(name, channel, settings, secrets, frozenset(from_env)))

    outbox_data = _table(data, "outbox", "")
    if "max_attempts" in outbox_data:
        raise ConfigError(
            "outbox: 'max_attempts' was replaced by 'retry_for', the retry budget in seconds "
            "(default 21600, six hours)"
        )
    retry_for = outbox_data.get("retry_for", 1.0)
    if isinstance(retry_for, bool) or not isinstance(retry_for, int | float) or retry_for <= 0:
        raise ConfigError(f"outbox: 'retry_for' must be a number of seconds > 0, not {retry_for!r}")
    try:
        outbox = OutboxConfig(**outbox_data)
    except TypeError as exc:
        raise ConfigError(f"outbox: {exc}") from exc

    limits = _limits(_table(data, "limits", ""))

    data_dir = Path(_typed(data.get("data_dir", "bridgekit-data"), str, "data_dir"))
    if not data_dir.is_absolute():
        data_dir = base / data_dir

    secret_keys = [env.get("BRIDGEKIT_SECRET_KEY", ""), *env.get("BRIDGEKIT_SECRET_KEY_OLD", "").split(",")]
    if not secret_keys[0] and any(secret_keys):
        raise ConfigError("BRIDGEKIT_SECRET_KEY_OLD is set without BRIDGEKIT_SECRET_KEY")

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
        media_url_ttl=media_url_ttl,
        metrics_token=metrics_token or None,
        trusted_proxies=trusted_proxies,
        limits=limits,
        ingest_busy_timeout=busy_timeout,
        ingest_fill_wait=fill_wait,
        source=source,
        secret_keys=tuple(key.strip() for key in secret_keys if key.strip()),
    )


def _limits(data: Mapping[str, Any]) -> LimitsConfig:
    from limits import parse  # the rate notation ("30/minute") is the limits package's

    try:
        limits = LimitsConfig(**data)
    except TypeError as exc:
        raise ConfigError(f"limits: {exc}") from exc
    for name in ("webhook_body_bytes", "upload_request_bytes", "connections_per_address"):
        if _typed(getattr(limits, name), int, f"limits.{name}") < 1:
            raise ConfigError(f"limits.{name} must be at least 1")
    for name in ("header_timeout", "keepalive_timeout", "body_timeout"):
        if _typed(getattr(limits, name), (int, float), f"limits.{name}") <= 0:
            raise ConfigError(f"limits.{name} must be a positive number of seconds")
    for name in ("link_failures", "customer_posts", "sign_in_failures", "sign_in_address_failures"):
        try:
            parse(_typed(getattr(limits, name), str, f"limits.{name}"))
        except ValueError:
            raise ConfigError(f'limits.{name} must be a rate like "30/minute"') from None
    return limits


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


# ``bridgekit serve --workers N`` starts each worker with this set to "<index>/<N>" (1-based).
WORKER_ENV = "BRIDGEKIT_WORKER"


def worker_slot() -> tuple[int, int] | None:
    """(index, count) of this process among the workers of ``serve --workers N``, else None:
    a worker binds its listening sockets with SO_REUSEPORT, since its siblings bind them too."""
    index, _, count = os.environ.get(WORKER_ENV, "").partition("/")
    if not (index.isdigit() and count.isdigit()):
        return None
    return int(index), int(count)
