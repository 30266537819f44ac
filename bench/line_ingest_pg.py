"""LINE webhook ingest on PostgreSQL with 1 and 2 worker processes, and PostgreSQL against
SQLite with one (issue 17).

Three targets, measured the same way as ``bench/line_ingest.py`` (its load generator, LINE
sandbox and pre-signed webhook pool), interleaved, each round on a fresh database:

* ``sqlite`` -- ``bridgekit serve`` on a SQLite file (one process);
* ``pg1``    -- ``bridgekit serve`` on a fresh PostgreSQL database (one process);
* ``pg2``    -- ``bridgekit serve --workers 2`` on a fresh PostgreSQL database.

For each: webhooks/s and bridgekit's CPU seconds per 1,000 webhooks (the server process and
its workers; PostgreSQL's own CPU is not counted, its server may be shared). Printed as ratios:
CPU per webhook with 2 workers / with 1 (target <= 1.15), throughput with 2 / with 1, and
PostgreSQL / SQLite throughput with one process. Every acknowledged webhookEventId is looked up
in ``messages`` after each round. Nothing is pinned to CPUs (two workers need two).

    BRIDGEKIT_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres python bench/line_ingest_pg.py
    python bench/line_ingest_pg.py --postgres postgresql://... --quick

Exit status 0 when the measurement is valid (a missed target is printed as MISSED), 1 when not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import line_ingest as li
from benchlib import ACKED, free_port, ingest_counters, run_in_workdir

TARGETS: tuple[str, ...] = ("sqlite", "pg1", "pg2")
#: With --compare-fill: two workers without their group commits' fill wait (as before it; one
#: process never waits).
NO_FILL = ("pg2-nofill",)
LABELS = {
    "sqlite": "SQLite, 1 process",
    "pg1": "PostgreSQL, 1 process",
    "pg2": "PostgreSQL, --workers 2",
    "pg2-nofill": "PostgreSQL, 2, no fill wait",
}
TARGET_CPU_RATIO = 1.15


class PgBench(li.Bench):
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir)
        self.targets = TARGETS + (NO_FILL if args.compare_fill else ())
        self.server_cpus = self.client_cpus = None  # two workers need two CPUs: no pinning
        self.admin = args.postgres

    async def _database(self, create: bool, name: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin)
        try:
            if create:
                await conn.execute(f'CREATE DATABASE "{name}"')
            else:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def _pg_url(self, name: str) -> str:
        base = self.admin.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{base}/{name}"

    async def _pg_storage(self, name: str, outcome: bytes) -> tuple[int, int, int]:
        import asyncpg

        conn = await asyncpg.connect(f"{self.admin.rpartition('/')[0]}/{name}")
        try:
            rows = await conn.fetch(
                "SELECT m.event_id FROM messages m JOIN integrations i ON i.id = m.integration_id"
                " WHERE i.name = $1 AND m.direction = 'inbound'",
                li.INTEGRATION,
            )
            backlog = await conn.fetchval("SELECT count(*) FROM flow_events")
        finally:
            await conn.close()
        stored = {r["event_id"] for r in rows}
        acked = [self.event_ids[i] for i, code in enumerate(outcome) if code == ACKED]
        return len(stored), sum(1 for e in acked if e not in stored), int(backlog)

    async def _both_workers(self, port: int) -> None:
        """Until both workers answer (worker 2 starts once worker 1 listens)."""
        import aiohttp

        seen: set[str] = set()
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            while seen != {"1", "2"} and time.monotonic() < deadline:
                try:
                    async with session.get(f"http://{li.HOST}:{port}/health") as resp:
                        seen.add(resp.headers.get("X-Bridgekit-Worker", ""))
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        if seen != {"1", "2"}:
            raise RuntimeError(f"not both workers answered: {sorted(seen)}")

    async def commits_of_every_worker(self, port: int, workers: int) -> tuple[int | None, int | None]:
        """Group commits and accepted deliveries summed over the workers (``/metrics`` is per
        process: asked on new connections until each worker answered once)."""
        import aiohttp

        by_worker: dict[str, tuple[int, int]] = {}
        headers = {"Authorization": f"Bearer {li.METRICS_TOKEN}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            for _ in range(200):
                if len(by_worker) == workers:
                    break
                try:
                    async with session.get(f"http://{li.HOST}:{port}/metrics", headers=headers) as resp:
                        text = await resp.text()
                        worker = resp.headers.get("X-Bridgekit-Worker", "1")
                except aiohttp.ClientError:
                    continue
                by_worker[worker] = ingest_counters(text)
        if len(by_worker) != workers:
            return None, None
        return sum(c for c, _ in by_worker.values()), sum(a for _, a in by_worker.values())

    async def run_round(self, target: str, number: int, sandbox_url: str) -> li.Round:
        workdir = self.workdir / f"{target}-{number}"
        workdir.mkdir()
        port = free_port()
        log_path = workdir / "server.log"
        config = li.write_bridgekit_config(workdir, port, sandbox_url)
        name = f"bk_bench_{uuid.uuid4().hex[:10]}"
        if target != "sqlite":
            await self._database(True, name)
            text = config.read_text()
            sqlite_url = f'url = "sqlite+aiosqlite:///{workdir / "bridgekit.db"}"'
            pg_url = f'url = "{self._pg_url(name)}"'
            if target.endswith("-nofill"):
                pg_url += "\ningest_fill_wait = 0"
            config.write_text(text.replace(sqlite_url, pg_url))
        workers = 2 if target.startswith("pg2") else 1
        argv = [sys.executable, "-m", "bridgekit.cli", "serve", "--config", str(config)]
        argv += ["--workers", "2"] if workers == 2 else []
        proc = await self.spawn(argv, log_path, workdir)
        try:
            await self.wait_healthy(proc, port, log_path)
            if workers == 2:
                await self._both_workers(port)
            result = await self.load(port, workdir, proc.pid)
            rnd = li.Round(target, float(result.get("requests_per_second", 0.0)), result)
            if "outcome" in result:
                rnd.commits, rnd.accepted = await self.commits_of_every_worker(port, workers)
                if target == "sqlite":
                    rnd.stored, rnd.missing, rnd.flow_backlog = self.check_storage(
                        workdir / "bridgekit.db", result["outcome"]
                    )
                else:
                    rnd.stored, rnd.missing, rnd.flow_backlog = await self._pg_storage(
                        name, result["outcome"]
                    )
        finally:
            await self.stop(proc)
            if target != "sqlite":
                await self._database(False, name)
        return rnd

    def describe(self, rnd: li.Round, number: int) -> tuple[str, bool]:
        saved = li.LABELS.get(rnd.target)
        li.LABELS[rnd.target] = LABELS[rnd.target]
        try:
            text, ok = super().describe(rnd, number)
        finally:
            if saved is None:
                del li.LABELS[rnd.target]
        cpu = _cpu_per_1000(rnd)
        if cpu is not None:
            text += f"\n    bridgekit CPU: {cpu:.2f} s per 1,000 webhooks"
        return text, ok

    async def run(self) -> int:
        from bridgekit_line.sandbox import LineSandbox

        a = self.args
        self.log("CPU pinning: off (two workers need two CPUs)")
        self.warn_if_busy()
        line = LineSandbox(channel_secret=li.CHANNEL_SECRET, access_token=li.ACCESS_TOKEN)
        sandbox_url = await line.start(li.HOST, 0)
        rounds: list[li.Round] = []
        valid = True
        try:
            users = [line.add_user(f"Customer {n:02d}") for n in range(li.USERS)]
            self.make_pool(line, users)
            self.log(
                f"{a.rounds} round(s) per target, interleaved; {a.concurrency} connections,"
                f" {a.warmup:g} s warm-up + {a.duration:g} s measured"
            )
            targets = self.targets
            for number in range(a.rounds):
                shift = number % len(targets)
                for target in targets[shift:] + targets[:shift]:
                    try:
                        rnd = await self.run_round(target, number, sandbox_url)
                    except RuntimeError as exc:
                        self.log(f"  {LABELS[target]} run {number + 1}: INVALID: {exc}")
                        return 1
                    text, ok = self.describe(rnd, number)
                    self.log(text)
                    valid &= ok and not rnd.missing
                    rounds.append(rnd)
        finally:
            await line.stop()
        return self.summarise_pg(rounds, valid)

    def summarise_pg(self, rounds: list[li.Round], valid: bool) -> int:
        def median(values: list[float | None]) -> float:
            present = [v for v in values if v is not None]
            return statistics.median(present) if present else 0.0

        rps = {t: median([r.rps for r in rounds if r.target == t]) for t in self.targets}
        cpu = {t: median([_cpu_per_1000(r) for r in rounds if r.target == t]) for t in self.targets}
        per_commit = {t: median([_per_commit(r) for r in rounds if r.target == t]) for t in self.targets}
        print()
        for t in self.targets:
            # Little's law: every connection waits for its answer before it sends again.
            mean_ms = self.args.concurrency / rps[t] * 1000 if rps[t] else 0.0
            print(
                f"{LABELS[t]:<28} {rps[t]:7.0f} webhooks/s   {cpu[t]:.2f} CPU s per 1,000 webhooks"
                f"   {per_commit[t]:5.1f} per commit   mean answer {mean_ms:.1f} ms"
            )
        cpu_ratio = cpu["pg2"] / cpu["pg1"] if cpu["pg1"] else 0.0
        verdict = "met" if 0 < cpu_ratio <= TARGET_CPU_RATIO else "MISSED"
        print(
            f"2 workers / 1: CPU per webhook {cpu_ratio:.2f} (target <= {TARGET_CPU_RATIO}) {verdict}"
            f" | throughput {rps['pg2'] / rps['pg1'] if rps['pg1'] else 0.0:.2f}"
        )
        if "pg2-nofill" in cpu and cpu["pg1"] and cpu["pg2-nofill"]:
            print(
                f"without the fill wait, 2 workers / 1: CPU per webhook {cpu['pg2-nofill'] / cpu['pg1']:.2f}"
                f" | with / without it, 2 workers: CPU per webhook {cpu['pg2'] / cpu['pg2-nofill']:.2f},"
                f" throughput {rps['pg2'] / rps['pg2-nofill'] if rps['pg2-nofill'] else 0.0:.2f}"
            )
        pg_vs_sqlite = rps["pg1"] / rps["sqlite"] if rps["sqlite"] else 0.0
        print(f"PostgreSQL / SQLite throughput, one process: {pg_vs_sqlite:.2f}")
        load = os.getloadavg()[0]
        print(f"(1-minute load average at the end: {load:.1f} on {os.cpu_count()} CPUs)")
        if not valid:
            print("INVALID RUN: see the lines marked INVALID above")
            return 1
        return 0


def _cpu_per_1000(rnd: li.Round) -> float | None:
    share = rnd.result.get("server_cpu")
    return share / rnd.rps * 1000 if share is not None and rnd.rps else None


def _per_commit(rnd: li.Round) -> float | None:
    return rnd.accepted / rnd.commits if rnd.commits and rnd.accepted is not None else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--postgres", default=os.environ.get("BRIDGEKIT_TEST_POSTGRES"), help="admin URL")
    p.add_argument("--quick", action="store_true", help="a short smoke run")
    p.add_argument("--rounds", type=int, help="runs per target, interleaved (default 2; --quick 1)")
    p.add_argument("--duration", type=float, help="measured seconds per run (default 8; --quick 2)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per run (default 2; --quick 1)")
    p.add_argument("--concurrency", type=int, default=32, help="connections kept busy (default 32)")
    p.add_argument("--pool", type=int, help="pre-signed bodies (default 60000; --quick 15000)")
    p.add_argument(
        "--compare-fill",
        action="store_true",
        help="also run 1 and 2 workers without the group commit's fill wait (ingest_fill_wait = 0)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.postgres:
        build_parser().error(
            "give --postgres or set BRIDGEKIT_TEST_POSTGRES (a server where it may create databases)"
        )
    quick = args.quick
    args.rounds = args.rounds or (1 if quick else 2)
    args.duration = args.duration if args.duration is not None else (2.0 if quick else 8.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if quick else 2.0)
    args.pool = args.pool or (15_000 if quick else 60_000)
    args.max_requests = args.pool
    # What line_ingest.Bench reads of its own options.
    args.client, args.no_pin, args.show_pids, args.before, args.floor = "raw", True, False, None, False
    args.targets = list(li.TARGETS)
    return run_in_workdir("bench-line-ingest-pg-", args.keep, lambda workdir: PgBench(args, workdir).run())


if __name__ == "__main__":
    sys.exit(main())
