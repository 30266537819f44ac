"""chat counts: the sidebar's figures kept by triggers instead of counted on every request

The sidebar counted every open chat on each request (702 ms at 1M chats). Now every change
of a chat's state, assignee, team, integration or first customer message, and every tag,
star, follower and read-marker row, adds +1/-1 rows to ``chat_counts`` in the same
transaction, through database triggers: every writer (the group commit, manager actions,
bots, foreign-key cascades) is covered without knowing about it. The sidebar sums a few
hundred rows (``bridgekit/inbox/views_counts.py``); a worker folds them into one per key.

Rows are only ever inserted by the triggers (never updated), so concurrent transactions on
PostgreSQL never wait on a shared counter row nor deadlock on one. A trigger that counts a
tag, star, follower or marker, or that marks markers unread for a new message, first locks
its chat's row (``FOR NO KEY UPDATE``), the lock every update of the chat takes: the two
sides then see each other's committed rows (each statement of a PL/pgSQL function takes a
fresh snapshot under READ COMMITTED), so no change is counted twice or missed.

Unread (I1) for a manager = open chats with a customer message (``chats.has_inbound``, set by
a trigger on messages) - those the manager has a read marker in + those whose marker is
``unread`` (a message newer than the marker, not the manager's own: set by a trigger on
messages, recomputed when the marker moves).

Revision ID: 0010_chat_counts
Revises: 0009_sign_in
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

revision = "0010_chat_counts"
down_revision = "0009_sign_in"
branch_labels = None
depends_on = None


# A NamedTuple: Alembic loads this file outside sys.modules, where a dataclass cannot be made.
class Key(NamedTuple):
    """One figure a chat row adds to: ``kind``/``key`` while ``when`` holds.

    ``{r}`` is the chat row (NEW or OLD); ``x`` a row of ``child`` (a table keyed by
    ``chat_id``) when the figure is per child row.
    """

    kind: str
    key: str
    when: str
    child: str | None = None


_OPEN = "{r}.state = 'open'"
_KEYS = (
    Key("open", "''", _OPEN),
    Key("inbound", "''", _OPEN + " AND {r}.has_inbound"),
    Key("integration", "COALESCE(CAST({r}.integration_id AS TEXT), '')", _OPEN),
    Key("assignee", "CAST({r}.assignee_id AS TEXT)", _OPEN + " AND {r}.assignee_id IS NOT NULL"),
    Key("unassigned", "COALESCE(CAST({r}.team_id AS TEXT), '')", _OPEN + " AND {r}.assignee_id IS NULL"),
    Key("queued", "COALESCE(CAST({r}.team_id AS TEXT), '')", "{r}.state = 'queued'"),
    Key("tag", "x.tag", _OPEN, "chat_tags"),
    Key("star", "CAST(x.manager_id AS TEXT)", _OPEN, "chat_stars"),
    # My sessions: followed chats assigned to someone else or to no one; and followed
    # unassigned ones, subtracted from Unassigned for a manager notified about those.
    Key(
        "follow",
        "CAST(x.manager_id AS TEXT)",
        _OPEN + " AND ({r}.assignee_id IS NULL OR {r}.assignee_id <> x.manager_id)",
        "chat_followers",
    ),
    Key(
        "follow_free", "CAST(x.manager_id AS TEXT)", _OPEN + " AND {r}.assignee_id IS NULL", "chat_followers"
    ),
    Key("read_inbound", "CAST(x.manager_id AS TEXT)", _OPEN + " AND {r}.has_inbound", "read_markers"),
    Key("read_unread", "CAST(x.manager_id AS TEXT)", _OPEN + " AND x.unread", "read_markers"),
)
# The chat columns the figures depend on: an update of any other column fires nothing.
_COLUMNS = ("workspace_id", "state", "assignee_id", "team_id", "integration_id", "has_inbound")
_INSERT = "INSERT INTO chat_counts (workspace_id, kind, key, n) "


def _same(k: Key) -> str:
    """The figure is unchanged by an update: it held before and after, for the same key."""
    return (
        f"({k.when.format(r='OLD')}) AND ({k.when.format(r='NEW')})"
        f" AND OLD.workspace_id = NEW.workspace_id AND {k.key.format(r='OLD')} = {k.key.format(r='NEW')}"
    )


def _delta(k: Key, r: str, sign: int, unless: str | None = None) -> str:
    when = k.when.format(r=r) + (f" AND NOT ({unless})" if unless else "")
    select = f"SELECT {r}.workspace_id, '{k.kind}', {k.key.format(r=r)}, {sign}"
    if k.child is None:
        return f"{_INSERT}{select} WHERE {when}"
    return f"{_INSERT}{select} FROM {k.child} x WHERE x.chat_id = {r}.id AND {when}"


def chat_inserted() -> list[str]:
    return [_delta(k, "NEW", 1) for k in _KEYS if k.child is None]  # no child row exists yet


def chat_updated() -> list[str]:
    statements = []
    for k in _KEYS:
        statements += [_delta(k, "OLD", -1, _same(k)), _delta(k, "NEW", 1, _same(k))]
    return statements


def chat_deleted() -> list[str]:
    # Before the delete: the cascade then removes children whose chat is gone (counted here).
    return [_delta(k, "OLD", -1) for k in _KEYS]


def child_changed(table: str, r: str, sign: int) -> list[str]:
    """A tag, star, follower or marker row added (NEW, +1) or removed (OLD, -1) on an
    existing chat."""
    statements = []
    for k in _KEYS:
        if k.child == table:
            key = k.key.replace("x.", f"{r}.")
            when = k.when.format(r="c").replace("x.", f"{r}.")
            statements.append(
                f"{_INSERT}SELECT c.workspace_id, '{k.kind}', {key}, {sign}"
                f" FROM chats c WHERE c.id = {r}.chat_id AND {when}"
            )
    return statements


# Each child table with the columns that decide its figures.
_CHILDREN = {
    "chat_tags": ("chat_id", "tag"),
    "chat_stars": ("chat_id", "manager_id"),
    "chat_followers": ("chat_id", "manager_id"),
    "read_markers": ("chat_id", "manager_id", "unread"),
}
# A new message: the chat has a customer message; markers behind it unread for all but its author.
NEW_MESSAGE = (
    "UPDATE chats SET has_inbound = TRUE"
    " WHERE id = NEW.chat_id AND NEW.direction = 'inbound' AND NOT has_inbound",
    "UPDATE read_markers SET unread = TRUE WHERE chat_id = NEW.chat_id AND NOT unread"
    " AND last_read_message_id < NEW.id"
    " AND (NEW.author_kind <> 'manager' OR NEW.author_id IS NULL OR NEW.author_id <> manager_id)",
)
# Whether a marker is behind a message someone else wrote (I1), as the lists show it.
MARKER_UNREAD = (
    "EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = {r}.chat_id AND m.id > {r}.last_read_message_id"
    " AND (m.author_kind <> 'manager' OR m.author_id IS NULL OR m.author_id <> {r}.manager_id))"
)


def _changed(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in columns)


def sqlite_ddl() -> list[str]:
    def trigger(name: str, timing: str, table: str, body: list[str], when: str | None = None) -> str:
        condition = f" WHEN {when}" if when else ""
        statements = "".join(f"  {b};\n" for b in body)
        return f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH ROW{condition}\nBEGIN\n{statements}END"

    recompute = (
        f"UPDATE read_markers SET unread = {MARKER_UNREAD.format(r='NEW')}"
        " WHERE manager_id = NEW.manager_id AND chat_id = NEW.chat_id"
    )
    ddl = [
        trigger("chat_counts_chat_insert", "AFTER INSERT", "chats", chat_inserted()),
        trigger(
            "chat_counts_chat_update", "AFTER UPDATE", "chats", chat_updated(), _changed(_COLUMNS, "IS NOT")
        ),
        trigger("chat_counts_chat_delete", "BEFORE DELETE", "chats", chat_deleted()),
        trigger("chat_counts_message", "AFTER INSERT", "messages", list(NEW_MESSAGE)),
        # The marker's own update fires the figures' trigger below (not itself: SQLite's
        # recursive triggers are off).
        trigger("chat_counts_marker_insert", "AFTER INSERT", "read_markers", [recompute]),
        trigger(
            "chat_counts_marker_move",
            "AFTER UPDATE",
            "read_markers",
            [recompute],
            "OLD.last_read_message_id <> NEW.last_read_message_id",
        ),
    ]
    for table, keys in _CHILDREN.items():
        ddl += [
            trigger(f"chat_counts_{table}_insert", "AFTER INSERT", table, child_changed(table, "NEW", 1)),
            trigger(f"chat_counts_{table}_delete", "AFTER DELETE", table, child_changed(table, "OLD", -1)),
            trigger(
                f"chat_counts_{table}_update",
                "AFTER UPDATE",
                table,
                child_changed(table, "OLD", -1) + child_changed(table, "NEW", 1),
                _changed(keys, "IS NOT"),
            ),
        ]
    return ddl


def postgresql_ddl() -> list[str]:
    ddl: list[str] = []

    def trigger(
        name: str, timing: str, table: str, body: list[str], when: str | None = None, returns: str = "NULL"
    ) -> None:
        statements = "".join(f"  {b};\n" for b in body)
        ddl.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"{statements}  RETURN {returns};\nEND\n$$"
        )
        condition = f" WHEN ({when})" if when else ""
        ddl.append(
            f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH ROW{condition} EXECUTE FUNCTION {name}()"
        )

    def lock(r: str) -> str:
        # The lock every update of the chat takes: see the module's docstring.
        return f"PERFORM 1 FROM chats WHERE id = {r}.chat_id FOR NO KEY UPDATE"

    trigger("chat_counts_chat_insert", "AFTER INSERT", "chats", chat_inserted())
    trigger(
        "chat_counts_chat_update",
        "AFTER UPDATE",
        "chats",
        chat_updated(),
        _changed(_COLUMNS, "IS DISTINCT FROM"),
    )
    trigger("chat_counts_chat_delete", "BEFORE DELETE", "chats", chat_deleted(), returns="OLD")
    trigger("chat_counts_message", "AFTER INSERT", "messages", [lock("NEW"), *NEW_MESSAGE])
    # Before the row is written: the flag goes in with it. The chat is locked first, in its
    # own statement, so the messages read after any wait include every committed one.
    recompute = [lock("NEW"), f"NEW.unread := {MARKER_UNREAD.format(r='NEW')}"]
    trigger("chat_counts_marker_insert", "BEFORE INSERT", "read_markers", recompute, returns="NEW")
    trigger(
        "chat_counts_marker_move",
        "BEFORE UPDATE",
        "read_markers",
        recompute,
        "OLD.last_read_message_id IS DISTINCT FROM NEW.last_read_message_id",
        returns="NEW",
    )
    for table, keys in _CHILDREN.items():
        trigger(
            f"chat_counts_{table}_insert",
            "AFTER INSERT",
            table,
            [lock("NEW"), *child_changed(table, "NEW", 1)],
        )
        trigger(
            f"chat_counts_{table}_delete",
            "AFTER DELETE",
            table,
            [lock("OLD"), *child_changed(table, "OLD", -1)],
        )
        trigger(
            f"chat_counts_{table}_update",
            "AFTER UPDATE",
            table,
            [lock("OLD"), lock("NEW"), *child_changed(table, "OLD", -1), *child_changed(table, "NEW", 1)],
            _changed(keys, "IS DISTINCT FROM"),
        )
    return ddl


def _recount() -> list[str]:
    """Every figure counted from the rows: the backfill (the triggers keep it from here)."""
    statements = [
        "UPDATE chats SET has_inbound = TRUE WHERE EXISTS "
        "(SELECT 1 FROM messages m WHERE m.chat_id = chats.id AND m.direction = 'inbound')",
        f"UPDATE read_markers SET unread = TRUE WHERE {MARKER_UNREAD.format(r='read_markers')}",
    ]
    for k in _KEYS:
        key = k.key.format(r="c")
        source = "chats c" if k.child is None else f"chats c JOIN {k.child} x ON x.chat_id = c.id"
        statements.append(
            f"{_INSERT}SELECT c.workspace_id, '{k.kind}', {key}, COUNT(*) FROM {source}"
            f" WHERE {k.when.format(r='c')} GROUP BY 1, 3"
        )
    return statements


def upgrade() -> None:
    op.create_table(
        "chat_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_counts"),
    )
    op.create_index("ix_chat_counts_workspace_id_kind_key", "chat_counts", ["workspace_id", "kind", "key"])
    # In place on both databases (a NOT NULL column with a default needs no table rebuild).
    op.add_column("chats", sa.Column("has_inbound", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("read_markers", sa.Column("unread", sa.Boolean(), nullable=False, server_default="0"))
    op.create_index("ix_read_markers_chat_id", "read_markers", ["chat_id"])
    # The Unassigned list in order on PostgreSQL (it sorted every unassigned open chat).
    op.create_index(
        "ix_chats_unassigned",
        "chats",
        ["workspace_id", "state", "last_message_at"],
        sqlite_where=sa.text("assignee_id IS NULL"),
        postgresql_where=sa.text("assignee_id IS NULL"),
    )
    for statement in _recount():
        op.execute(statement)
    ddl = postgresql_ddl() if op.get_bind().dialect.name == "postgresql" else sqlite_ddl()
    for statement in ddl:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("bridgekit migrates forward only")
