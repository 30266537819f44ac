"""The hot path's hand-written SQL against the schema (issue 13, item 6).

The ingest group commit writes with plain SQL (``bridgekit.storage.hotsql``): its column lists
in ``ingest.py`` and ``notify.py`` are a second copy of ``schema.py`` that SQLAlchemy
never sees. Core fills a column's Python-side ``default=`` for its own inserts; plain SQL does
not, so a column added to the schema with such a default (or NOT NULL without any default)
and left out of a hot insert is a NULL, a failed group commit or a wrong value, found in
production. These tests read every hot-path statement from the source and check it against
the schema and against the tables the migrations build on each database; and show on
modified copies of the schema that each kind of drift is caught.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text
from sqlalchemy import inspect as inspect_db

from bridgekit.inbox import notify
from bridgekit.ingest import pipeline as ingest
from bridgekit.queues import outbox
from bridgekit.storage import handles
from bridgekit.storage.db import Database
from bridgekit.storage.schema import metadata

# Every module that writes through HotSQL: a new one must be added here.
HOT_MODULES: tuple[ModuleType, ...] = (ingest, notify, handles, outbox)


@dataclass(frozen=True)
class HotWrite:
    where: str  # module:line, for the failure message
    table: str
    columns: tuple[str, ...]
    insert: bool  # an INSERT names every column it fills; an UPDATE only what it changes


def _name(column: str) -> str:
    return column.strip().strip('"')


def hot_writes(modules: Iterable[ModuleType] = HOT_MODULES) -> list[HotWrite]:
    """The INSERTs and UPDATEs of the hot path, read from the modules' source: ``sql.insert(
    "table", COLUMNS, ...)`` calls (COLUMNS a module constant) and SQL string literals."""
    found: list[HotWrite] = []
    for module in modules:
        tree = ast.parse(inspect.getsource(module))
        name = module.__name__.rsplit(".", 1)[-1]
        for node in ast.walk(tree):
            where = f"{name}.py:{getattr(node, 'lineno', '?')}"
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "insert"
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                columns = node.args[1]
                assert isinstance(columns, ast.Name), f"{where}: give the columns as a module constant"
                names = tuple(_name(c) for c in getattr(module, columns.id))
                found.append(HotWrite(where, node.args[0].value, names, True))
            elif isinstance(node, ast.JoinedStr | ast.BinOp | ast.Constant):
                text = _literal_text(node)
                if text is None:
                    continue
                if m := re.search(r"INSERT INTO (\w+) \(([^)]*)\)", text):
                    found.append(HotWrite(where, m[1], tuple(_name(c) for c in m[2].split(",")), True))
                if m := re.search(r"UPDATE (\w+) SET (.+?) WHERE", text):
                    columns_set = tuple(_name(c.split("=")[0]) for c in m[2].split(","))
                    found.append(HotWrite(where, m[1], columns_set, False))
    # String concatenations are walked whole and in parts: one entry per statement.
    return list({(w.table, w.columns, w.insert): w for w in found}.values())


def _literal_text(node: ast.AST) -> str | None:
    """The text of a string literal, an f-string (placeholders as ``{}``) or a ``+`` of them."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}" for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_text(node.left), _literal_text(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _fills_itself(column: Column[object]) -> bool:
    """What the database puts in a column an INSERT leaves out is what Core would: a server
    default, the id sequence, or NULL for a nullable column without a Python-side default."""
    if column.server_default is not None:
        return True
    if column.primary_key and column.autoincrement in (True, "auto") and isinstance(column.type, Integer):
        return True
    return column.nullable is True and column.default is None


def drift(schema: MetaData, writes: Iterable[HotWrite]) -> list[str]:
    """How the hot path's statements disagree with ``schema``: one line per problem."""
    problems = []
    for w in writes:
        table = schema.tables.get(w.table)
        if table is None:
            problems.append(f"{w.where}: writes table {w.table}, which the schema does not have")
            continue
        for name in w.columns:
            if name not in table.c:
                problems.append(f"{w.where}: writes {w.table}.{name}, which the schema does not have")
        if not w.insert:
            continue
        for column in table.c:
            if column.name in w.columns or _fills_itself(column):
                continue
            if column.default is not None:
                why = "has a Python-side default that plain SQL does not apply"
            else:
                why = "is NOT NULL without a default"
            problems.append(f"{w.where}: INSERT INTO {w.table} leaves out {column.name}, which {why}")
    return problems


def db_drift(sync_conn: Connection, writes: Iterable[HotWrite]) -> list[str]:
    """How the hot path's statements disagree with the tables as this database has them."""
    db = inspect_db(sync_conn)
    tables = set(db.get_table_names())
    problems = []
    for w in writes:
        if w.table not in tables:
            problems.append(f"{w.where}: writes table {w.table}, which the database does not have")
            continue
        columns = {c["name"]: c for c in db.get_columns(w.table)}
        primary = set(db.get_pk_constraint(w.table)["constrained_columns"])
        for name in w.columns:
            if name not in columns:
                problems.append(f"{w.where}: writes {w.table}.{name}, which the database does not have")
        if not w.insert:
            continue
        for name, column in columns.items():
            if name in w.columns or column["nullable"] or column.get("default") is not None:
                continue
            if name in primary and column.get("autoincrement", True):
                continue  # the id sequence (PostgreSQL) or the rowid (SQLite)
            problems.append(
                f"{w.where}: INSERT INTO {w.table} leaves out {name}, NOT NULL without a default"
                " in the database"
            )
    return problems


def _copy(schema: MetaData) -> MetaData:
    copy = MetaData()
    for table in schema.sorted_tables:
        table.to_metadata(copy)
    return copy


def test_the_guard_reads_every_hot_path_statement() -> None:
    """If the parsing went blind, the other tests would pass on nothing."""
    inserted = {w.table for w in hot_writes() if w.insert}
    updated = {(w.table, c) for w in hot_writes() if not w.insert for c in w.columns}
    assert {
        "raw_deliveries",
        "customers",
        "contacts",
        "chats",
        "messages",
        "attachments",
        "flow_events",
        "chat_keys",
        "notifications",
    } <= inserted
    assert {("chats", "state"), ("chats", "last_message_at")} <= updated


def test_the_hot_path_sql_agrees_with_schema_py() -> None:
    assert drift(metadata, hot_writes()) == []


async def test_the_hot_path_sql_agrees_with_the_migrated_database(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.migrate()
        async with db.read() as conn:
            assert await conn.run_sync(db_drift, hot_writes()) == []
    finally:
        await db.dispose()


def test_a_column_added_to_the_schema_but_not_to_the_hot_path_fails_the_guard() -> None:
    """The three ways a schema change leaves the hot path behind, each on a modified copy of
    the schema (schema.py itself is untouched)."""
    writes = hot_writes()

    required = _copy(metadata)
    required.tables["messages"].append_column(Column("language", String(10), nullable=False))
    assert (
        [p for p in drift(required, writes) if "messages leaves out language" in p]
        == [p for p in drift(required, writes) if "language" in p]
        != []
    )

    defaulted = _copy(metadata)
    defaulted.tables["chats"].append_column(Column("priority", Integer, default=3))  # nullable
    assert any(
        "INSERT INTO chats leaves out priority, which has a Python-side default" in p
        for p in drift(defaulted, writes)
    )

    # A column the hot path writes is renamed in the schema.
    renamed = MetaData()
    for table in _copy(metadata).sorted_tables:
        columns = [
            Column("body_text" if (table.name, c.name) == ("messages", "text") else c.name, c.type)
            for c in table.c
        ]
        Table(table.name, renamed, *columns)
    assert any("writes messages.text, which the schema does not have" in p for p in drift(renamed, writes))

    # Columns Core and the database fill alike (nullable, server default) need no change.
    harmless = _copy(metadata)
    harmless.tables["messages"].append_column(Column("note", Text))
    harmless.tables["chats"].append_column(Column("weight", Integer, nullable=False, server_default="0"))
    assert drift(harmless, writes) == []


async def test_a_database_built_from_a_drifted_schema_fails_the_guard(db_url: str) -> None:
    """The same guard on a real database of each kind: tables built from a copy of the schema
    with one more NOT NULL column in messages."""
    drifted = _copy(metadata)
    drifted.tables["messages"].append_column(Column("language", String(10), nullable=False))
    db = Database(db_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(drifted.create_all)
        async with db.read() as conn:
            problems = await conn.run_sync(db_drift, hot_writes())
        assert problems != []
        assert all("INSERT INTO messages leaves out language" in p for p in problems)
    finally:
        await db.dispose()
