"""The inbox's first screen as the inbox grows: sidebar counts and first pages, 10k vs 1M chats.

For each size a fresh database gets bridgekit's real schema (the Alembic migrations, so the
production indexes and the triggers that keep the sidebar's counts) and is filled with bulk
SQL (``INSERT ... SELECT`` over a generated series, 100,000 rows a statement, the triggers
firing as in production; on SQLite the new chats counted as their writers count them):
customers with an email contact, chats with one customer message each, 75 % closed, 15 %
open, 5 % snoozed, 5 % queued, 57 % assigned to one of 50 managers (each assignee following
their chat), half routed to one of 5 teams, a tenth tagged; manager 1 has read every chat
assigned to them and starred 1 %. Then, through the very code the API
runs, and as the median of repeated runs:

- the first page (50 chats) of several views (``parse_list_query`` + ``list_page``);
- the sidebar counts (``views_sidebar.sidebar``: ``GET /api/v1/views`` and the shell at ``/``);
- the first screen: the sidebar plus the first page of "all" with its marks and previews, what
  a manager's browser asks for on opening the inbox.

A screen that does not scan the chats costs about the same at any size, so the printed ratio
of the largest size's median to the smallest's should stay at most 2. At each size the kept
counts are also checked against a full recount (``recount_sidebar``), whose time is printed.

    python bench/inbox_views.py                        # 10k and 1M chats on SQLite
    python bench/inbox_views.py --sizes 10000,100000,1000000
    python bench/inbox_views.py --quick                # 1k and 10k: a smoke test
    python bench/inbox_views.py --postgres URL         # also on PostgreSQL (URL of its server)

Exit status 0 when every measurement ran (a missed target is printed as MISSED), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, event, func, make_url, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine  # noqa: E402

from bridgekit.inbox.managers import Manager  # noqa: E402
from bridgekit.inbox.previews import last_messages  # noqa: E402
from bridgekit.inbox.views import list_page, parse_list_query  # noqa: E402
from bridgekit.inbox.views_counts import NewChat, count_new_chats, fold_counts  # noqa: E402
from bridgekit.inbox.views_marks import page_marks  # noqa: E402
from bridgekit.inbox.views_sidebar import recount_sidebar, sidebar  # noqa: E402
from bridgekit.storage import schema as s  # noqa: E402
from bridgekit.storage.db import Database  # noqa: E402

CHUNK = 100_000
MANAGERS = 50
TEAMS = 5
TAGS = ("vip", "refund", "bug", "delivery", "billing", "b2b", "feedback", "spam")
INTEGRATIONS = (
    ("bench-sms", "sms"),
    ("bench-mail", "email"),
    ("bench-kakao", "kakao"),
    ("bench-line", "line"),
)
BASE = datetime(2024, 1, 1)
TARGET = 2.0
SIDEBAR = "sidebar"
SCREEN = "first screen"
# The views timed, as API query strings (the manager asking is manager 1).
VIEWS = {
    "all": {"view": "all"},
    "mine": {"view": "mine"},
    "unassigned": {"view": "unassigned"},
    "tag": {"view": "tag", "tag": "vip"},
    "integration": {"view": "integration", "integration": "bench-line"},
    "newest": {"view": "all", "sort": "newest"},
}


def chunks(total: int) -> Iterator[range]:
    for start in range(0, total, CHUNK):
        yield range(start + 1, min(start + CHUNK, total) + 1)


# Odd multipliers, one per column drawn, so that the draws are independent of each other.
_MULTIPLIERS: tuple[int, ...] = (2654435761, 2246822519, 3266489917, 668265263, 374761393)
_MULTIPLIERS += (1103515245, 1140671485, 3735928559, 2166136261, 1597334677)


def hashed(column: int) -> str:
    """A well-spread pseudo-random 0..65535 per row and column (a multiplicative hash of i)."""
    return f"((i * {_MULTIPLIERS[column]}) % 4294967296 / 65536)"


class Dialect:
    """The two things the fill's SQL says differently: the series of ids and a timestamp."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def series(self) -> tuple[str, str]:
        """(prefix, FROM item) giving one row per i in lo..hi."""
        if self.sqlite:
            return (
                "WITH RECURSIVE seq(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM seq WHERE i < :hi) ",
                "seq",
            )
        return "", "generate_series(CAST(:lo AS BIGINT), CAST(:hi AS BIGINT)) AS seq(i)"

    def at(self, seconds: str) -> str:
        """BASE plus ``seconds``, as each database stores a SQLAlchemy DateTime."""
        if self.sqlite:
            return (
                f"strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || ({seconds}) || ' seconds') || '.000000'"
            )
        return f"(TIMESTAMP '2024-01-01' + ({seconds}) * INTERVAL '1 second')"


def fill_sql(d: Dialect) -> list[str]:
    """The bulk statements of one chunk of ids (``:lo``..``:hi``), in order."""
    prefix, seq = d.series()
    roll = f"({hashed(1)} % 100)"
    state = (
        f"CASE WHEN {roll} < 75 THEN 'closed' WHEN {roll} < 90 THEN 'open'"
        f" WHEN {roll} < 95 THEN 'snoozed' ELSE 'queued' END"
    )
    team = f"CASE WHEN {roll} >= 95 OR {hashed(2)} % 2 = 0 THEN 1 + i / {MANAGERS} % {TEAMS} END"
    assignee = f"CASE WHEN {roll} < 95 AND {hashed(4)} % 10 < 6 THEN 1 + i % {MANAGERS} END"
    created = d.at("i * 30")
    last_seconds = f"i * 30 + {hashed(6)} % 259200"
    last = d.at(last_seconds)
    tag = " ".join(f"WHEN {hashed(8)} % {len(TAGS)} = {n} THEN '{tag}'" for n, tag in enumerate(TAGS))
    return [
        f"{prefix}INSERT INTO customers (id, workspace_id, name, is_lead, profile, created_at, updated_at)"
        f" SELECT i, 1, 'Customer ' || i, TRUE, '{{}}', {created}, {created} FROM {seq}",
        f"{prefix}INSERT INTO contacts (id, customer_id, kind, scope, value, verified, created_at)"
        f" SELECT i, i, 'email', 0, 'c' || i || '@example.com', FALSE, {created} FROM {seq}",
        f"{prefix}INSERT INTO chats (id, workspace_id, integration_id, customer_id, contact_id, thread_key,"
        " state, assignee_id, team_id, created_at, updated_at, last_message_at, closed_at, snoozed_until,"
        " queued_at, has_inbound)"
        f" SELECT i, 1, i % {len(INTEGRATIONS)} + 1, i, i, 't' || i, {state}, {assignee}, {team},"
        f" {created}, {last}, {last}, CASE WHEN {roll} < 75 THEN {last} END,"
        f" CASE WHEN {roll} >= 90 AND {roll} < 95 THEN {d.at(last_seconds + ' + 86400')} END,"
        f" CASE WHEN {roll} >= 95 THEN {created} END, TRUE FROM {seq}",
        f"{prefix}INSERT INTO messages (id, chat_id, integration_id, direction, author_kind, text, meta,"
        " automated, created_at)"
        f" SELECT i, i, i % {len(INTEGRATIONS)} + 1, 'inbound', 'customer', 'question ' || i, '{{}}', FALSE,"
        f" {last} FROM {seq}",
        f"{prefix}INSERT INTO chat_tags (chat_id, tag)"
        f" SELECT i, CASE {tag} END FROM {seq} WHERE {hashed(7)} % 10 = 0",
        # I16: the assignee follows the chat; manager 1 read theirs and starred 1 % of all.
        "INSERT INTO chat_followers (chat_id, manager_id)"
        " SELECT id, assignee_id FROM chats WHERE id BETWEEN :lo AND :hi AND assignee_id IS NOT NULL",
        "INSERT INTO read_markers (manager_id, chat_id, last_read_message_id, updated_at)"
        " SELECT 1, id, id, last_message_at FROM chats WHERE id BETWEEN :lo AND :hi AND assignee_id = 1",
        f"{prefix}INSERT INTO chat_stars (manager_id, chat_id, created_at)"
        f" SELECT 1, i, {created} FROM {seq} WHERE {hashed(9)} % 100 = 0",
    ]


async def insert(engine: AsyncEngine, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(table.insert(), list(rows))


async def fill(engine: AsyncEngine, size: int) -> None:
    """The fixed rows, then customers, contacts, chats, messages, tags, followers, read
    markers and stars in chunks of 100,000 ids, one transaction per chunk."""
    now = BASE
    await insert(engine, s.workspaces, [{"id": 1, "name": "bench", "created_at": now}])
    await insert(
        engine,
        s.integrations,
        [
            {
                "id": n,
                "workspace_id": 1,
                "name": name,
                "kind": kind,
                "settings": {},
                "secrets": {},
                "enabled": True,
            }
            | {"created_at": now}
            for n, (name, kind) in enumerate(INTEGRATIONS, 1)
        ],
    )
    await insert(
        engine,
        s.managers,
        [
            {"id": n, "workspace_id": 1, "name": f"Manager {n}", "operator": True, "permissions": []}
            | {"max_auto_assign": 10, "notify_unassigned": n == 1, "available": True, "created_at": now}
            for n in range(1, MANAGERS + 1)
        ],
    )
    await insert(
        engine,
        s.teams,
        [{"id": n, "workspace_id": 1, "name": f"Team {n}", "auto_assign": True} for n in range(1, TEAMS + 1)],
    )
    statements = [text(sql) for sql in fill_sql(Dialect(engine.dialect.name))]
    c = s.chats.c
    for ids in chunks(size):
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(statement, {"lo": ids.start, "hi": ids.stop - 1})
            if engine.dialect.name == "sqlite":  # no trigger counts new chats there (migration 0016)
                new = await conn.execute(
                    select(
                        c.workspace_id, c.state, c.integration_id, c.assignee_id, c.team_id, c.has_inbound
                    ).where(c.id.between(ids.start, ids.stop - 1))
                )
                await count_new_chats(conn, [NewChat(*row) for row in new])
        async with engine.begin() as conn:
            await fold_counts(conn)  # as the server's compactor does every few seconds


def fill_engine(db: Database) -> AsyncEngine:
    """A separate engine for the fill; on SQLite without fsyncs (it is a benchmark fixture)."""
    engine = create_async_engine(db.sqlalchemy_url)
    if db.is_sqlite:

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

        event.listen(engine.sync_engine, "connect", pragmas)
    return engine


async def first_screen(conn: AsyncConnection, manager: Manager) -> None:
    """What opening the inbox asks for: ``GET /api/v1/views`` and ``GET /api/v1/chats``."""
    await sidebar(conn, manager)
    page = await list_page(conn, manager, parse_list_query({"view": "all"}))
    ids = [r.id for r in page.rows]
    await page_marks(conn, manager.id, ids, [r.customer_id for r in page.rows])
    await last_messages(conn, ids)


class Timer:
    """Interleaved timing: each run times every size in turn, so that whatever else the
    machine does at that moment weighs on all sizes alike."""

    def __init__(self, dbs: dict[int, Database], runs: int) -> None:
        self.dbs = dbs
        self.runs = runs

    async def median_ms(self, work: Any) -> dict[int, float]:
        """Median milliseconds of ``work(conn)`` per size; the first two runs warm caches."""
        samples: dict[int, list[float]] = {size: [] for size in self.dbs}
        for attempt in range(self.runs + 2):
            for size, db in self.dbs.items():
                async with db.read() as conn:
                    started = time.perf_counter()
                    await work(conn)
                    elapsed = time.perf_counter() - started
                if attempt >= 2:
                    samples[size].append(elapsed * 1000)
        return {size: statistics.median(values) for size, values in samples.items()}


async def check_counts(db: Database, size: int, manager: Manager) -> float:
    """The kept counts equal a full recount; returns the recount's milliseconds."""
    async with db.read() as conn:
        started = time.perf_counter()
        recounted = await recount_sidebar(conn, manager)
        took = (time.perf_counter() - started) * 1000
        kept = await sidebar(conn, manager)
        rows = (await conn.execute(select(func.count()).select_from(s.chat_counts))).scalar_one()
    if kept != recounted:
        raise RuntimeError(f"INVALID: the kept counts differ from a recount: {kept} != {recounted}")
    print(
        f"  {size:,} chats: kept counts equal a full recount ({kept.all:,} open, {kept.unread:,}"
        f" unread for manager 1; {rows} count rows; the recount took {took:.0f} ms)",
        flush=True,
    )
    return took


async def time_views(dbs: dict[int, Database], runs: int) -> dict[int, dict[str, float]]:
    """Median milliseconds per size of the first page of each view, of the sidebar and of the
    first screen, through the code of the API; and the kept counts checked against a recount."""
    manager = Manager(1, "Manager 1", True, frozenset())
    results: dict[int, dict[str, float]] = {size: {} for size in dbs}
    for size, db in dbs.items():
        results[size]["recount"] = await check_counts(db, size, manager)
    timer = Timer(dbs, runs)
    for name, params in VIEWS.items():
        query = parse_list_query(params)
        for db in dbs.values():
            async with db.read() as conn:
                if not (await list_page(conn, manager, query)).rows:
                    raise RuntimeError(f"view {name} listed nothing")

        async def page(conn: AsyncConnection, query: Any = query) -> None:
            await list_page(conn, manager, query)

        for size, ms in (await timer.median_ms(page)).items():
            results[size][name] = ms
    for name, work in ((SIDEBAR, sidebar), (SCREEN, first_screen)):
        for size, ms in (await timer.median_ms(lambda conn, work=work: work(conn, manager))).items():
            results[size][name] = ms
    return results


async def fill_database(url: str, size: int) -> Database:
    """A migrated database at ``url`` filled with ``size`` chats (ANALYZEd)."""
    db = Database(url)
    await db.migrate()
    engine = fill_engine(db)
    started = time.perf_counter()
    try:
        await fill(engine, size)
        async with engine.connect() as conn:
            # Statistics, and on PostgreSQL the folded count rows' dead tuples vacuumed, as its
            # autovacuum would do soon (VACUUM outside a transaction).
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE" if db.is_sqlite else "VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    print(f"  filled {size:,} chats in {time.perf_counter() - started:.1f} s", flush=True)
    return db


async def measure(urls: dict[int, str], runs: int) -> dict[int, dict[str, float]]:
    dbs: dict[int, Database] = {}
    try:
        for size, url in urls.items():
            dbs[size] = await fill_database(url, size)
        return await time_views(dbs, runs)
    finally:
        for db in dbs.values():
            await db.dispose()


def report(backend: str, sizes: Sequence[int], results: dict[int, dict[str, float]]) -> bool:
    """Print one line per view, then the sidebar and the first screen; returns whether every
    figure met the target."""
    all_met = True
    small, large = sizes[0], sizes[-1]

    def line(name: str) -> None:
        nonlocal all_met
        figures = " | ".join(f"{size:>9,} {results[size][name]:7.2f} ms" for size in sizes)
        ratio = results[large][name] / results[small][name]
        met = ratio <= TARGET
        all_met &= met
        verdict = "met" if met else "MISSED"
        print(f"  {name:<12} {figures} | ratio {ratio:.2f} (target <= {TARGET:g}) {verdict}")

    print(f"{backend}: first page (50 chats), median ms")
    for view in VIEWS:
        line(view)
    print(f"{backend}: sidebar counts, and the first screen (sidebar + first page of all), median ms")
    line(SIDEBAR)
    line(SCREEN)
    figures = " | ".join(f"{size:>9,} {results[size]['recount']:7.0f} ms" for size in sizes)
    print(f"  {'(recount)':<12} {figures} | the sidebar counted from every open chat, for comparison")
    return all_met


@contextlib.asynccontextmanager
async def postgres_databases(url: str, sizes: Sequence[int]) -> AsyncIterator[dict[int, str]]:
    """One fresh database per size on the server of ``url`` (``<its name>_<size>``), dropped
    afterwards: the sizes are timed interleaved, so all exist at once."""
    admin = create_async_engine(Database(url).sqlalchemy_url, isolation_level="AUTOCOMMIT")
    base = make_url(url)
    names = {size: f"{base.database or 'postgres'}_views_{size}" for size in sizes}
    try:
        async with admin.connect() as conn:
            for name in names.values():
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield {
            size: base.set(database=name).render_as_string(hide_password=False)
            for size, name in names.items()
        }
    finally:
        async with admin.connect() as conn:
            for name in names.values():
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k chats only (smoke test)")
    parser.add_argument(
        "--sizes",
        default="10000,1000000",
        help="comma-separated numbers of chats, smallest first (default: 10000,1000000)",
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per view (median)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure on this PostgreSQL server (a database per size is created and dropped)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only (with --postgres)")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else sorted(int(n) for n in args.sizes.split(","))
    ok = True
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="bench-views-") as tmp:
            print("sqlite", flush=True)
            results = await measure({size: f"sqlite:///{tmp}/views-{size}.db" for size in sizes}, args.runs)
            ok &= report("sqlite", sizes, results)
    if args.postgres:
        print("postgresql", flush=True)
        async with postgres_databases(args.postgres, sizes) as urls:
            results = await measure(urls, args.runs)
        ok &= report("postgresql", sizes, results)
    print("all targets met" if ok else "some targets MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
