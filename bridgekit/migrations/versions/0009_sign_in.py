"""Sign-in for people in a browser: managers' password hashes, sessions, one-time links

Managers sign in with their email (now unique) and a password kept as an argon2 hash.
Sessions and one-time set-password links keep only a SHA-256 of their tokens.

Revision ID: 0009_sign_in
Revises: 0008_workspaces
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sign_in"
down_revision = "0008_workspaces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column is added in place on both databases (no table rebuild on SQLite).
    op.add_column("managers", sa.Column("password_hash", sa.String(200), nullable=True))
    op.create_index("ix_managers_email", "managers", ["email"], unique=True)
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["managers.id"], name="fk_sessions_manager_id_managers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
    )
    op.create_index("ix_sessions_manager_id", "sessions", ["manager_id"])
    op.create_table(
        "password_links",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["managers.id"],
            name="fk_password_links_manager_id_managers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_password_links"),
    )
    op.create_index("ix_password_links_manager_id", "password_links", ["manager_id"])


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
