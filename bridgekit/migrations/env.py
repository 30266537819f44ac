"""Alembic environment: run against the connection bridgekit hands in."""

from __future__ import annotations

from alembic import context

from bridgekit.storage.schema import exists_on, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `bridgekit migrate`, which supplies the connection")

dialect = connection.dialect.name
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    # Autogenerate leaves alone what schema.py declares for the other database only.
    include_object=lambda item, name, kind, reflected, compare_to: reflected or exists_on(item, dialect),
)
with context.begin_transaction():
    context.run_migrations()
