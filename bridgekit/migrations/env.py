"""Alembic environment: run against the connection bridgekit hands in."""

from __future__ import annotations

from alembic import context

from bridgekit.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `bridgekit migrate`, which supplies the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
