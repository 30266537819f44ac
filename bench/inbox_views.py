"""Inbox list latency as the inbox grows: the first page of a view at 10k, 100k and 1M chats.

For each size a fresh database gets bridgekit's real schema (the Alembic migrations, so the
production indexes) and is filled directly with bulk Core inserts (executemany, chunks of
10,000 rows): customers with an email contact, chats with one customer message each, most
chats closed, some open / snoozed / queued, some assigned to one of 50 managers or routed to
one of 5 teams, about a tenth tagged. Then the first page (50 chats) of several views is timed
through the very code the API runs (``parse_list_query`` + ``list_page`` of
``bridgekit.inbox.views``): the median of repeated runs per view and size. A list served by
the right index costs about the same at any size, so the printed ratio of the largest size's
median to the smallest's should stay at most 2.

    python bench/inbox_views.py                  # 10k, 100k, 1M chats on SQLite
    python bench/inbox_views.py --quick          # 1k and 10k: a smoke test
    python bench/inbox_views.py --postgres URL   # also on PostgreSQL (URL of an empty database)

Exit status 0 when every measurement ran (a missed target is printed as MISSED), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, event, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from bridgekit.inbox.managers import Manager  # noqa: E402
from bridgekit.inbox.views import list_page, parse_list_query  # noqa: E402
from bridgekit.inbox.views_sidebar import sidebar  # noqa: E402
from bridgekit.storage import schema as s  # noqa: E402
from bridgekit.storage.db import Database  # noqa: E402

CHUNK = 10_000
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


def chat_row(i: int, rng: random.Random) -> dict[str, Any]:
    created = BASE + timedelta(seconds=i * 30)
    roll = rng.random()
    state = "closed" if roll < 0.75 else "open" if roll < 0.9 else "snoozed" if roll < 0.95 else "queued"
    team = rng.randint(1, TEAMS) if state == "queued" or rng.random() < 0.5 else None
    assignee = rng.randint(1, MANAGERS) if state != "queued" and rng.random() < 0.6 else None
    last = created + timedelta(seconds=rng.randint(0, 86_400 * 3))
    return {
        "id": i,
        "workspace_id": 1,
        "integration_id": i % len(INTEGRATIONS) + 1,
        "customer_id": i,
        "contact_id": i,
        "thread_key": f"t{i}",
        "title": None,
        "state": state,
        "assignee_id": assignee,
        "team_id": team,
        "created_at": created,
        "updated_at": last,
        "last_message_at": last,
        "closed_at": last if state == "closed" else None,
        "snoozed_until": last + timedelta(days=1) if state == "snoozed" else None,
        "queued_at": created if state == "queued" else None,
    }


async def insert(engine: AsyncEngine, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(table.insert(), list(rows))


async def fill(engine: AsyncEngine, size: int) -> None:
    """The fixed rows, then customers, contacts, chats, messages and tags in 10k chunks."""
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
            | {"max_auto_assign": 10, "notify_unassigned": False, "available": True, "created_at": now}
            for n in range(1, MANAGERS + 1)
        ],
    )
    await insert(
        engine,
        s.teams,
        [{"id": n, "workspace_id": 1, "name": f"Team {n}", "auto_assign": True} for n in range(1, TEAMS + 1)],
    )
    rng = random.Random(size)
    for ids in chunks(size):
        chats = [chat_row(i, rng) for i in ids]
        async with engine.begin() as conn:
            await conn.execute(
                s.customers.insert(),
                [
                    {"id": i, "workspace_id": 1, "name": f"Customer {i}", "is_lead": True, "profile": {}}
                    | {"created_at": now, "updated_at": now}
                    for i in ids
                ],
            )
            await conn.execute(
                s.contacts.insert(),
                [
                    {"id": i, "customer_id": i, "kind": "email", "scope": 0, "value": f"c{i}@example.com"}
                    | {"verified": False, "created_at": now}
                    for i in ids
                ],
            )
            await conn.execute(s.chats.insert(), chats)
            await conn.execute(
                s.messages.insert(),
                [
                    {"id": c["id"], "chat_id": c["id"], "integration_id": c["integration_id"]}
                    | {"direction": "inbound", "author_kind": "customer", "text": f"question {c['id']}"}
                    | {"meta": {}, "automated": False, "created_at": c["last_message_at"]}
                    for c in chats
                ],
            )
            tags = [{"chat_id": i, "tag": TAGS[rng.randrange(len(TAGS))]} for i in ids if rng.random() < 0.1]
            if tags:
                await conn.execute(s.chat_tags.insert(), tags)


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


async def time_views(db: Database, runs: int) -> dict[str, float]:
    """Median milliseconds of the first page of each view, through the list code of the API."""
    manager = Manager(1, "Manager 1", True, frozenset())
    medians: dict[str, float] = {}
    for name, params in VIEWS.items():
        query = parse_list_query(params)
        samples = []
        for attempt in range(runs + 2):
            async with db.read() as conn:
                started = time.perf_counter()
                page = await list_page(conn, manager, query)
                elapsed = time.perf_counter() - started
            if not page.rows:
                raise RuntimeError(f"view {name} listed nothing")
            if attempt >= 2:  # the first two warm the cache
                samples.append(elapsed * 1000)
        medians[name] = statistics.median(samples)
    # The sidebar counts every open chat: it grows with the open set, reported without a target.
    samples = []
    for _ in range(max(3, runs // 3)):
        async with db.read() as conn:
            started = time.perf_counter()
            await sidebar(conn, manager)
            samples.append((time.perf_counter() - started) * 1000)
    medians[SIDEBAR] = statistics.median(samples)
    return medians


async def measure(url: str, size: int, runs: int, reset: Any = None) -> dict[str, float]:
    if reset is not None:
        await reset()
    db = Database(url)
    await db.migrate()
    engine = fill_engine(db)
    started = time.perf_counter()
    try:
        await fill(engine, size)
        if not db.is_sqlite:
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))  # PostgreSQL's autovacuum would do it soon
    finally:
        await engine.dispose()
    print(f"  filled {size:,} chats in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        return await time_views(db, runs)
    finally:
        await db.dispose()


def report(backend: str, sizes: Sequence[int], results: dict[int, dict[str, float]]) -> bool:
    """Print one line per view; returns whether every view met the target."""
    all_met = True
    small, large = sizes[0], sizes[-1]
    print(f"{backend}: first page (50 chats), median ms")
    for view in VIEWS:
        figures = " | ".join(f"{size:>9,} {results[size][view]:7.2f} ms" for size in sizes)
        ratio = results[large][view] / results[small][view]
        met = ratio <= TARGET
        all_met &= met
        verdict = "met" if met else "MISSED"
        print(f"  {view:<12} {figures} | ratio {ratio:.2f} (target <= {TARGET:g}) {verdict}")
    figures = " | ".join(f"{size:>9,} {results[size][SIDEBAR]:7.2f} ms" for size in sizes)
    print(f"  {SIDEBAR:<12} {figures} | counts of all open chats (no target)")
    return all_met


async def postgres_reset(url: str) -> Any:
    async def reset() -> None:
        engine = create_async_engine(Database(url).sqlalchemy_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    return reset


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k chats only (smoke test)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per view (median)")
    parser.add_argument("--postgres", metavar="URL", help="also measure on this empty PostgreSQL database")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000]
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-views-") as tmp:
        results: dict[int, dict[str, float]] = {}
        for size in sizes:
            print(f"sqlite, {size:,} chats", flush=True)
            results[size] = await measure(f"sqlite:///{tmp}/views-{size}.db", size, args.runs)
        ok &= report("sqlite", sizes, results)
    if args.postgres:
        reset = await postgres_reset(args.postgres)
        results = {}
        for size in sizes:
            print(f"postgresql, {size:,} chats", flush=True)
            results[size] = await measure(args.postgres, size, args.runs, reset)
        ok &= report("postgresql", sizes, results)
    print("all targets met" if ok else "some targets MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
