"""Integrations: configured in TOML, stored in the database, served from memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update

from bridgekit.config import IntegrationConfig
from bridgekit.core import schema as s
from bridgekit.core.clock import utcnow
from bridgekit.core.db import Database
from bridgekit.exceptions import ConfigError, UnknownIntegration
from bridgekit.model import Integration
from bridgekit.plugins import LoadedChannel, PluginHost


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

    async def sync(self, db: Database, channel_id: int, configured: Iterable[IntegrationConfig]) -> None:
        """Upsert the configured integrations and load every enabled one into memory."""
        configured = list(configured)
        for cfg in configured:
            if cfg.channel not in self.plugins.channels:
                raise ConfigError(
                    f"integration {cfg.name!r} uses channel {cfg.channel!r}, which no enabled plugin "
                    f"provides (available: {', '.join(self.plugins.channels) or 'none'})"
                )
        now = utcnow()
        async with db.write() as conn:
            existing = {
                row.name: row
                for row in (await conn.execute(select(s.integrations.c.id, s.integrations.c.name))).all()
            }
            for cfg in configured:
                values = {
                    "kind": cfg.channel,
                    "settings": dict(cfg.settings),
                    "secrets": dict(cfg.secrets),
                    "enabled": True,
                }
                if cfg.name in existing:
                    await conn.execute(
                        update(s.integrations).where(s.integrations.c.name == cfg.name).values(**values)
                    )
                else:
                    await conn.execute(
                        s.integrations.insert().values(
                            name=cfg.name, channel_id=channel_id, created_at=now, **values
                        )
                    )
            rows = (await conn.execute(select(s.integrations).where(s.integrations.c.enabled))).all()
        self._by_name.clear()
        self._by_id.clear()
        for row in rows:
            if row.kind not in self.plugins.channels:
                continue  # stored earlier for a plugin that is not enabled now
            bound = BoundIntegration(
                Integration(row.id, row.name, row.kind, dict(row.settings), dict(row.secrets)),
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
