"""Database tables (SQLAlchemy Core). Alembic migrations in ``bridgekit/migrations`` must
produce exactly this schema; ``tests/core/test_schema.py`` fails when they drift.

Timestamps are naive UTC (``bridgekit.runtime.clock.utcnow``) so SQLite and PostgreSQL compare
them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def postgresql_only(index: Index) -> Index:
    """An index PostgreSQL needs and SQLite does not (``create_all`` and the comparison of the
    migrations with this module, :func:`exists_on`, skip it on SQLite)."""
    index.info["dialect"] = "postgresql"
    return index.ddl_if(dialect="postgresql")


def exists_on(item: object, dialect: str) -> bool:
    """Whether a table or index of this module exists on ``dialect``: for Alembic's
    ``include_object``."""
    info = getattr(item, "info", None)
    return not isinstance(info, dict) or info.get("dialect", dialect) == dialect


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

managers = Table(
    "managers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    # Sign-in (migration 0009): the address a manager signs in with, stored lower-case, and an
    # argon2 hash of their password (none until they set one through a one-time link).
    Column("email", String(320)),
    Column("password_hash", String(200)),
    Column("operator", Boolean, nullable=False, default=False),
    Column("permissions", JSON, nullable=False, default=list),
    Column("token_hash", String(64), unique=True),
    Column("max_auto_assign", Integer, nullable=False, default=10),
    Column("notify_unassigned", Boolean, nullable=False, default=False),
    # Auto-assignment only picks operators who are available (not away).
    Column("available", Boolean, nullable=False, default=True, server_default="1"),
    Column("created_at", DateTime, nullable=False),
    Index(None, "email", unique=True),
)

# Browser sessions (``bridgekit.inbox.sessions``): only a SHA-256 of the cookie's token is
# stored, so a copy of the database signs nobody in. The CSRF token is derived from the
# cookie's token, never stored. A session ends when idle too long or past ``expires_at``.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("manager_id", ForeignKey("managers.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index(None, "manager_id"),
)

# One-time links to set a password (``bridgekit managers create --email``): hashed like
# sessions, valid until ``expires_at`` and only until used.
password_links = Table(
    "password_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("manager_id", ForeignKey("managers.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
    Index(None, "manager_id"),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    # I3: chats routed to an auto-assigning team wait in its queue when nobody is available.
    Column("auto_assign", Boolean, nullable=False, default=False, server_default="0"),
    UniqueConstraint("workspace_id", "name"),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("manager_id", ForeignKey("managers.id", ondelete="CASCADE"), primary_key=True),
)

integrations = Table(
    "integrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(100), nullable=False),
    Column("settings", JSON, nullable=False, default=dict),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(300)),
    Column("is_lead", Boolean, nullable=False, default=True),
    Column("profile", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# A handle that reaches a customer. scope = 0 for shared handles (email, phone), else the
# integration id the handle belongs to (a LINE userId means nothing elsewhere).
# A *verified* handle belongs to one customer (E7 joins through it, so two owners would make
# the join a guess): the database enforces it, and ingest inserts-or-gets against it
# (``bridgekit.storage.handles``). Unverified handles (a From address, an email typed into a
# form) may sit on several customers.
contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("scope", Integer, nullable=False),
    Column("value", String(500), nullable=False),
    Column("verified", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("customer_id", "kind", "scope", "value"),
    Index(None, "kind", "scope", "value"),
    Index(
        "uq_contacts_verified_handle",
        "kind",
        "scope",
        "value",
        unique=True,
        sqlite_where=text("verified"),
        postgresql_where=text("verified"),
    ),
)

chats = Table(
    "chats",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("integration_id", ForeignKey("integrations.id", ondelete="SET NULL")),
    Column("customer_id", ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("thread_key", String(500)),
    Column("title", String(500)),
    Column("state", String(20), nullable=False),
    Column("assignee_id", ForeignKey("managers.id", ondelete="SET NULL")),
    Column("team_id", ForeignKey("teams.id", ondelete="SET NULL")),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("last_message_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    Column("snoozed_until", DateTime),
    Column("queued_at", DateTime),
    Column("assigned_at", DateTime),
    Column("description", Text),  # I16, with #hashtags
    Column("goal", String(20)),  # I16: None | achieved | not_achieved
    Column("source", String(200)),  # I16: campaign or workflow that started the chat
    Column("customer_token_hash", String(64), unique=True),  # I11: the customer link
    # Migration 0010: the chat has a customer message (set by a trigger on messages).
    Column("has_inbound", Boolean, nullable=False, default=False, server_default="0"),
    # Migration 0014: the number of this chat's latest realtime event group (PostgreSQL; see
    # storage/event_seq.py). Bumped under the row lock, so it follows commit order.
    Column("event_seq", Integer, nullable=False, default=0, server_default="0"),
    Index(None, "workspace_id", "state", "last_message_at"),
    Index(None, "customer_id"),
    Index(None, "assignee_id", "state", "last_message_at"),
    Index(None, "team_id", "state", "last_message_at"),
    Index(None, "integration_id", "state", "last_message_at"),
    Index(None, "state", "snoozed_until"),
    Index(None, "workspace_id", "state", "created_at"),  # I8: newest / oldest first
    # I2 Unassigned, latest first: PostgreSQL does not read the assignee index above in order
    # for "assignee_id IS NULL" (it sorted every unassigned open chat: 256 ms at 1M chats).
    # SQLite does, so there it would only cost every group commit a page (migration 0015).
    postgresql_only(
        Index(
            "ix_chats_unassigned",
            "workspace_id",
            "state",
            "last_message_at",
            postgresql_where=text("assignee_id IS NULL"),
        )
    ),
    sqlite_autoincrement=True,  # ids of deleted rows are never handed out again
)

# I1: favourites are per manager.
chat_stars = Table(
    "chat_stars",
    metadata,
    Column("manager_id", ForeignKey("managers.id", ondelete="CASCADE"), primary_key=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Index(None, "chat_id"),
)

# I16: the assignee is always a follower; followers are notified (I1 "My sessions").
chat_followers = Table(
    "chat_followers",
    metadata,
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("manager_id", ForeignKey("managers.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "manager_id"),
)

# I1 Unread: the last message each manager has read in each chat.
read_markers = Table(
    "read_markers",
    metadata,
    Column("manager_id", ForeignKey("managers.id", ondelete="CASCADE"), primary_key=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("last_read_message_id", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # Migration 0010: a message newer than the marker that someone else wrote (I1), kept by
    # triggers for the Unread count.
    Column("unread", Boolean, nullable=False, default=False, server_default="0"),
    Index(None, "chat_id"),
)

# The sidebar's figures (I1-I6) as +1/-1 rows per (workspace, kind, key), written only by the
# database triggers of migration 0010 in the transaction that changes a chat, a tag, a star or
# a follower; summed by bridgekit/inbox/views_counts.py, folded into one row per key by its
# compactor. Kinds: open, inbound, integration, assignee, unassigned (by team), queued (by
# team), tag, and per manager star, follow, follow_free, read_inbound, read_unread. Keys are
# ids as text, '' for none.
chat_counts = Table(
    "chat_counts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, nullable=False),  # no foreign key: rows only ever added
    Column("kind", String(20), nullable=False),
    Column("key", String(100), nullable=False),
    Column("n", Integer, nullable=False),
    Index(None, "workspace_id", "kind", "key"),
)

# What managers are told: new messages, mentions (I13), assignment, snooze ended (I10).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("manager_id", ForeignKey("managers.id", ondelete="CASCADE"), nullable=False),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE")),
    Column("kind", String(30), nullable=False),
    Column("push", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("read_at", DateTime),
    Index(None, "manager_id", "id"),
)

# I15: '#' shortcuts managers type in the composer; the text may hold {variables}.
macros = Table(
    "macros",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("shortcut", String(50), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("workspace_id", "shortcut"),
)

# I17: what the customer did (pages visited, purchases...), shown in the customer panel.
customer_events = Table(
    "customer_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("properties", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
    Index(None, "customer_id", "id"),
)

# Keys under which a provider refers to a chat (LINE userId, email Message-IDs). A key points
# at the latest chat that used it; of two writers racing to point it, the first wins and the
# other files its messages under the winner's chat (``bridgekit.storage.handles``).
chat_keys = Table(
    "chat_keys",
    metadata,
    Column("integration_id", ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
)

# Migration 0012: each tag row carries copies of its chat's workspace, state and sort keys,
# set and kept by database triggers (never written by the code), so that the tag view's pages
# (I6) are one range of an index in page order instead of a walk of the open chats.
chat_tags = Table(
    "chat_tags",
    metadata,
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Column("workspace_id", Integer),
    Column("state", String(20)),
    Column("last_message_at", DateTime),
    Column("created_at", DateTime),
    Index(None, "tag", "workspace_id", "state", "last_message_at", "chat_id"),
    Index(None, "tag", "workspace_id", "state", "created_at", "chat_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("integration_id", ForeignKey("integrations.id", ondelete="SET NULL")),
    Column("direction", String(10), nullable=False),
    Column("author_kind", String(20), nullable=False),
    Column("author_id", Integer),
    Column("author_name", String(300)),
    Column("text", Text, nullable=False, default=""),
    Column("meta", JSON, nullable=False, default=dict),
    Column("event_id", String(300)),
    Column("automated", Boolean, nullable=False, default=False),
    Column("delivery_status", String(20)),
    Column("delivery_error", Text),
    Column("provider_message_id", String(300)),
    Column("raw_delivery_id", ForeignKey("raw_deliveries.id", ondelete="SET NULL")),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("integration_id", "event_id"),
    Index(None, "chat_id", "id"),
    # Only outbound messages have a provider id: inbound ones (most rows) stay out of it.
    Index(
        None,
        "integration_id",
        "provider_message_id",
        sqlite_where=text("provider_message_id IS NOT NULL"),
        postgresql_where=text("provider_message_id IS NOT NULL"),
    ),
    sqlite_autoincrement=True,  # ids of deleted rows are never handed out again
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(500), nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_path", String(1000), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index(None, "message_id"),
)

# Every accepted inbound delivery exactly as received; status accepted | malformed | error.
raw_deliveries = Table(
    "raw_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("integration_id", ForeignKey("integrations.id", ondelete="SET NULL")),
    Column("received_at", DateTime, nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("query", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("remote", String(100)),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    # Redeliveries of this delivery's events: counted here, never stored as rows of their own.
    Column("duplicates", Integer, nullable=False, server_default="0"),
    # Only the kept ones (malformed, error): accepted deliveries are nearly every row, and
    # indexing them cost the group commit pages and time for no query. A query that wants
    # this index says ``status != 'accepted'`` (SQLite uses a partial index only then).
    Index(
        "ix_raw_deliveries_kept",
        "status",
        sqlite_where=text("status != 'accepted'"),
        postgresql_where=text("status != 'accepted'"),
    ),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("integration_id", ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    Column("idempotency_key", String(100), nullable=False, unique=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("lease_until", DateTime),
    # Who holds the lease (``host boot-id pid instance``): a restarted server reclaims the
    # leases of its own dead predecessor at once instead of waiting for them to expire.
    Column("lease_owner", String(200)),
    Column("last_error", Text),
    # What the plugin recorded before a network call (``OutboundMessage.progress``), so the
    # next attempt knows what an interrupted one may have sent.
    Column("progress", JSON, nullable=False, default=dict),
    # Start of the retry budget (``outbox.retry_for``): the first enqueue or the last manual retry.
    Column("retry_from", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index(None, "state", "next_attempt_at"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("outbox_id", ForeignKey("outbox.id", ondelete="SET NULL"), unique=True),
    Column("message_id", ForeignKey("messages.id", ondelete="SET NULL")),
    Column("integration_id", ForeignKey("integrations.id", ondelete="SET NULL")),
    Column("amount_pu", Integer, nullable=False),
    Column("category", String(50), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    # A month of it, newest first (inbox/charges.py; migration 0017).
    Index(None, "workspace_id", "created_at", "id"),
)

# Flow events (bot hooks) written in the same transaction as the change that caused them
# and deleted in the transaction that applies the bots' actions: bots run after the commit
# and never delay the provider's acknowledgement, yet no event is lost in a crash.
flow_events = Table(
    "flow_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("chat_id", ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE")),
    Column("payload", JSON, nullable=False, default=dict),
    Column("created_at", DateTime, nullable=False),
)

# The hits of the rate limits in ``[limits]`` (web/rate_limits.py through
# storage/rate_hits.py): one row a counted request, kept for its rate's window, so every
# process of an install counts against the same budget and a restart forgets nothing.
rate_hits = Table(
    "rate_hits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False),  # SHA-256 of the limit and its subject, hex
    Column("at", Float, nullable=False),  # seconds since the epoch, as the limits package counts
    Index(None, "key", "at"),
)

# Ids are INTEGER columns, 32-bit on PostgreSQL: a larger number names no row, and binding one
# there is an error (a 500), so every id from a request is checked against this first.
MAX_ID = 2**31 - 1


def valid_id(value: object) -> bool:
    """A plausible row id: an int (not a bool) within the id columns' range."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID
