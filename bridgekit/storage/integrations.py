"""Integrations: configured in TOML, stored in the database, served from memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update

from bridgekit.config import IntegrationConfig
from bridgekit.exceptions import ConfigError, UnknownIntegration
from bridgekit.model import Integration
from bridgekit.plugins import LoadedChannel, PluginHost
from bridgekit.redaction import remember_secrets
from bridgekit.runtime.clock import utcnow
from bridgekit.storage import schema as s
from bridgekit.storage.db import Database, one_starting_at_a_time
from bridgekit.storage.secret_box import SecretBox, secure_delete


@dataclass(frozen=True, slots=True)
class BoundIntegration:
    """An integration together with the channel (and so the plugin) that owns it."""

    integration: Integration
    channel: LoadedChannel


class IntegrationRegistry:
    def __init__(self, plugins: PluginHost) -> None:
        self.plugins = plugins
        self._by_name: dict[str, BoundIntegration] = {}
        self._by_id: dict[int, BoundIntegration] = {}

    async def sync(
        self, db: Database, workspace_id: int, configured: Iterable[IntegrationConfig], box: SecretBox
    ) -> None:
        """Store the configured integrations, disable the others, load the enabled ones.

        An integration removed from the configuration is disabled, not deleted: its chats and
        messages stay, its webhooks answer 404, and configuring it again re-enables it.
        Secrets are stored encrypted (``box``), except those given only through the
        environment, which live in memory only. The configuration is their source, so every
        start rewrites them: rows written before encryption are sealed (or, for removed
        integrations, emptied) on the first start after the upgrade.
        """
        by_name = {cfg.name: cfg for cfg in configured}
        for cfg in by_name.values():
            if cfg.channel not in self.plugins.channels:
                raise ConfigError(
                    f"integration {cfg.name!r} uses channel {cfg.channel!r}, which no enabled plugin "
                    f"provides (available: {', '.join(self.plugins.channels) or 'none'})"
                )
        now = utcnow()
        i = s.integrations
        async with db.write() as conn, secure_delete(conn, db):
            await one_starting_at_a_time(conn)
            existing = set((await conn.execute(select(i.c.name))).scalars())
            for cfg in by_name.values():
                values = {
                    "kind": cfg.channel,
                    "settings": dict(cfg.settings),
                    "secrets": box.seal(cfg.stored_secrets),
                    "enabled": True,
                }
                if cfg.name in existing:
                    await conn.execute(update(i).where(i.c.name == cfg.name).values(**values))
                else:
                    await conn.execute(
                        i.insert().values(name=cfg.name, workspace_id=workspace_id, created_at=now, **values)
                    )
            # Removed from the configuration: its secrets are of no use any more.
            await conn.execute(
                update(i).where(i.c.name.not_in(list(by_name))).values(enabled=False, secrets={})
            )
            rows = (await conn.execute(select(i).where(i.c.enabled))).all()
        self._by_name.clear()
        self._by_id.clear()
        for row in rows:
            cfg = by_name[row.name]
            from_env = {key: cfg.secrets[key] for key in cfg.env_secrets}
            secrets = {**box.open(row.secrets, integration=row.name), **from_env}
            remember_secrets(secrets.values())
            bound = BoundIntegration(
                Integration(row.id, row.name, row.kind, dict(row.settings), secrets),
                self.plugins.channels[row.kind],
            )
            self._by_name[row.name] = bound
            self._by_id[row.id] = bound

    def get(self, name: str) -> BoundIntegration:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownIntegration(f"no enabled integration named {name!r}") from None

    def by_id(self, integration_id: int) -> BoundIntegration | None:
        return self._by_id.get(integration_id)

    def ordered(self) -> list[BoundIntegration]:
        """Every enabled integration in the fixed inbox order (P3), then by name."""
        return sorted(self._by_name.values(), key=lambda b: (b.channel.spec.sort_key, b.integration.name))

    def for_channel(self, channel: str) -> list[Integration]:
        return [b.integration for b in self.ordered() if b.integration.channel == channel]
