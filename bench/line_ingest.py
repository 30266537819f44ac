"""LINE webhook ingest throughput: bridgekit vs. two bare aiohttp baselines (issue #4).

Three HTTP servers are measured the same way, each as its own process pinned to its own CPU:

* ``bridgekit``  -- the real thing: ``bridgekit serve`` with a generated ``bridgekit.toml``
  (SQLite file, ``[plugins] enabled = ["line"]``, one ``line`` integration whose
  ``api_base``/``data_api_base`` point at a LINE sandbox this script runs, so the profile
  look-ups are answered locally);
* ``baseline-a`` -- a bare aiohttp handler that only verifies and parses with the official
  ``line-bot-sdk`` (``linebot.v3.webhook.WebhookParser``) and stores nothing;
* ``baseline-b`` -- a bare aiohttp handler that checks the HMAC (base64 HMAC-SHA256 of the raw
  body, ``X-Line-Signature``) and inserts one row with stdlib ``sqlite3`` into a file database
  in WAL mode with ``synchronous=NORMAL`` (bridgekit's defaults): a durable floor.

A load generator process (pinned to the other CPU) keeps a fixed number of keep-alive
connections busy with pre-generated, pre-signed webhook bodies -- each one text-message event
from one of 50 users with a unique ``webhookEventId`` -- for a warm-up and then a fixed
measured window (bounded by a request count too). Every answer must be 200; anything else makes
the run invalid. Each target runs ``--rounds`` times, interleaved, on a fresh database; the
medians are compared as ratios. After each bridgekit round every acknowledged event id is
looked up in bridgekit's ``messages`` table.

    python bench/line_ingest.py            # 3 rounds x 10 s per target
    python bench/line_ingest.py --quick    # a few seconds: smoke test

Exit status 0 when the measurement is valid, even if a target is missed (printed as MISSED);
1 when it is not (a non-200, a connection error, a lost message, a server that did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import pickle
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    ACKED,
    FAILED,
    HOST,
    BenchRun,
    LoadState,
    add_before_option,
    add_load_role_options,
    add_round_options,
    check_rounds_stored,
    config_head,
    exit_status,
    free_port,
    http_worker,
    ingest_counters,
    load_argv,
    measure,
    pct,
    print_changes,
    resolve_rounds,
    run_in_workdir,
    run_load_generator,
    spawn,
    stop,
    storage_note,
    stored_inbound,
    tree_cpu_seconds,
    wait_healthy,
)

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
INTEGRATION = "bench-line"
HOOK_PATH = f"/hooks/{INTEGRATION}"
CHANNEL_SECRET = "bench-line-channel-secret"
ACCESS_TOKEN = "bench-line-channel-access-token"
METRICS_TOKEN = "bench-metrics-token"  # /metrics needs it (or an operator's API token)
USERS = 50
MAX_BODY = 32 * 1024 * 1024

TARGETS = ("bridgekit", "a", "b")
# ``--floor`` adds a bare aiohttp handler (reads the body, answers 200): what HTTP alone costs,
# so the summary can say how much of each request is bridgekit's own work.
ALL_TARGETS = (*TARGETS, "floor", "before")
LABELS = {
    "bridgekit": "bridgekit",
    "a": "baseline-a (line-bot-sdk parse)",
    "b": "baseline-b (hmac+sqlite3)",
    "floor": "floor (bare aiohttp, no work)",
    "before": "bridgekit before (--before)",
}
TARGET_VS_A = 1.0
TARGET_VS_B = 0.6


# --------------------------------------------------------------------------------------------
# Baseline servers (``--serve-baseline a|b``)
# --------------------------------------------------------------------------------------------


def serve_baseline(kind: str, port: int, db_path: Path | None) -> None:
    from aiohttp import web

    if kind == "a":
        from linebot.v3.exceptions import InvalidSignatureError
        from linebot.v3.webhook import WebhookParser

        parser = WebhookParser(CHANNEL_SECRET)

        async def hook(request: web.Request) -> web.Response:
            body = await request.read()
            try:
                parser.parse(body.decode("utf-8"), request.headers.get("X-Line-Signature", ""))
            except InvalidSignatureError:
                return web.Response(status=401, text="invalid signature")
            return web.Response(text="OK")

    elif kind == "b":
        if db_path is None:
            raise SystemExit("--serve-baseline b needs --db")
        conn = sqlite3.connect(db_path, isolation_level=None)  # autocommit: one commit per insert
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS deliveries ("
            " id INTEGER PRIMARY KEY, received_at REAL NOT NULL, signature TEXT NOT NULL, body BLOB NOT NULL)"
        )
        key = CHANNEL_SECRET.encode("utf-8")

        async def hook(request: web.Request) -> web.Response:
            body = await request.read()
            signature = request.headers.get("X-Line-Signature", "")
            expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
            if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
                return web.Response(status=401, text="invalid signature")
            conn.execute(
                "INSERT INTO deliveries (received_at, signature, body) VALUES (?, ?, ?)",
                (time.time(), signature, body),
            )
            return web.Response(text="OK")

    elif kind == "floor":

        async def hook(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(text="OK")

    else:
        raise SystemExit(f"unknown baseline {kind!r}")

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "baseline": kind})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(HOOK_PATH, hook)
    app.router.add_get("/health", health)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# --------------------------------------------------------------------------------------------
# Load generator (``--load``)
# --------------------------------------------------------------------------------------------


async def _aiohttp_workers(state: LoadState, port: int, concurrency: int, timeout: float) -> None:
    import aiohttp

    url = f"http://{HOST}:{port}{HOOK_PATH}"
    bodies = [_split_request(r) for r in state.items]

    async def worker(session: aiohttp.ClientSession) -> None:
        while (index := state.take()) is not None:
            body, signature = bodies[index]
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "LineBotWebhook/2.0",
                "X-Line-Signature": signature,
            }
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                state.outcome[index] = FAILED
                state.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            state.done(index, status)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))


def _build_request(port: int, body: bytes, signature: str) -> bytes:
    head = (
        f"POST {HOOK_PATH} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "User-Agent: LineBotWebhook/2.0\r\n"
        f"X-Line-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def _split_request(request: bytes) -> tuple[bytes, str]:
    head, body = request.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"x-line-signature:"):
            return body, line.split(b":", 1)[1].strip().decode("ascii")
    raise ValueError("request without X-Line-Signature")


def write_signed_pool(
    line: Any, users: list[str], count: int, text: Callable[[int], str], path: Path
) -> list[str]:
    """Pre-generate and sign ``count`` webhook bodies, one text message each (``text(i)``) from
    ``users`` in turn, into ``path`` (read by ``_load_pool``); returns their webhookEventIds."""
    pool, event_ids = [], []
    for i in range(count):
        event = line.webhooks.text(users[i % len(users)], text(i))
        body = line.webhooks.body([event])
        pool.append((body, line.webhooks.signature(body)))
        event_ids.append(event["webhookEventId"])
    line.webhooks.reply_tokens.clear()
    with path.open("wb") as fh:
        pickle.dump(pool, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return event_ids


def _load_pool(path: Path) -> list[tuple[bytes, str]]:
    with path.open("rb") as fh:
        pool: list[tuple[bytes, str]] = pickle.load(fh)
    return pool


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    pool = _load_pool(args.pool_file)
    count = min(len(pool), args.max_requests)
    # Everything is built before the clock starts: the generator only writes and reads bytes.
    state = LoadState([_build_request(args.port, b, s) for b, s in pool[:count]], bytearray(count), ok=200)
    del pool
    if args.client == "aiohttp":
        runner = asyncio.ensure_future(_aiohttp_workers(state, args.port, args.concurrency, args.timeout))
        tasks = [runner]
    else:
        tasks = [
            asyncio.ensure_future(http_worker(state, args.port, args.timeout))
            for _ in range(args.concurrency)
        ]
    server_cpu = {"server_cpu": lambda: tree_cpu_seconds(args.server_pid)}
    window = await measure(state, tasks, args.warmup, args.duration, server_cpu)
    if window is None:
        return {"error": f"the request pool ({count}) ran out during the warm-up; raise --pool"}
    return {
        "outcome": state.outcome,
        "requests_per_second": window.completed / window.seconds,
        "measured_requests": window.completed,
        "measured_seconds": window.seconds,
        "warmup_seconds": window.warmup_seconds,
        "sent": state.next_index,
        "acked": state.outcome.count(ACKED),
        "statuses": {str(k): v for k, v in sorted(state.counts.items())},
        "non_200": sum(v for k, v in state.counts.items() if k != 200),
        **window.common(state),
    }


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def write_bridgekit_config(workdir: Path, port: int, sandbox_url: str) -> Path:
    path = workdir / "bridgekit.toml"
    path.write_text(
        config_head(workdir, port) + f'metrics_token = "{METRICS_TOKEN}"\n'
        "\n[plugins]\n"
        'enabled = ["line"]\n'
        f"\n[integrations.{INTEGRATION}]\n"
        'channel = "line"\n'
        f"\n[integrations.{INTEGRATION}.settings]\n"
        f'api_base = "{sandbox_url}"\n'
        f'data_api_base = "{sandbox_url}"\n'
        f"\n[integrations.{INTEGRATION}.secrets]\n"
        f'channel_secret = "{CHANNEL_SECRET}"\n'
        f'channel_access_token = "{ACCESS_TOKEN}"\n'
    )
    return path


@dataclass
class Round:
    target: str
    rps: float
    result: dict[str, Any]
    stored: int | None = None
    missing: int | None = None
    flow_backlog: int | None = None
    commits: int | None = None
    accepted: int | None = None


class Bench(BenchRun):
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir)
        self.pool_path = workdir / "pool.pickle"
        self.event_ids: list[str] = []

    def warn_if_busy(self) -> None:
        """Other work on this machine skews every figure: say so (1-minute load average)."""
        with contextlib.suppress(OSError):
            load = os.getloadavg()[0]
            if load > 0.5 * (os.cpu_count() or 1):
                self.log(f"WARNING: the machine is busy (load average {load:.1f}); figures may be disturbed")

    # --- pieces ----------------------------------------------------------------------------

    def make_pool(self, line: Any, users: list[str]) -> None:
        """Pre-generate and sign every webhook body (same pool for every target and round;
        each round runs on a fresh database, so the event ids are new to it)."""
        started = time.perf_counter()
        topics = ("my order", "a refund", "the delivery date", "my account", "an invoice")
        self.event_ids = write_signed_pool(
            line,
            users,
            self.args.pool,
            lambda i: f"Hello, a question about {topics[i % len(topics)]} (#{i})",
            self.pool_path,
        )
        took = time.perf_counter() - started
        self.log(f"pre-signed {self.args.pool} webhook bodies from {len(users)} users in {took:.1f} s")

    async def spawn(self, argv: list[str], log_path: Path, cwd: Path) -> asyncio.subprocess.Process:
        return await spawn(argv, log_path, cwd, self.server_cpus)

    async def wait_healthy(self, proc: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
        await wait_healthy(proc, port, log_path)

    async def stop(self, proc: asyncio.subprocess.Process) -> None:
        await stop(proc)

    async def load(self, port: int, workdir: Path, server_pid: int) -> dict[str, Any]:
        a = self.args
        result_path = workdir / "outcome.bin"
        argv = [
            *load_argv(SCRIPT, port, result_path, a),
            "--pool-file",
            str(self.pool_path),
            "--max-requests",
            str(a.max_requests),
            "--client",
            a.client,
            "--server-pid",
            str(server_pid),
        ]
        return await run_load_generator(argv, self.client_cpus, a.warmup + a.duration + 120, result_path)

    async def commit_counters(self, port: int) -> tuple[int | None, int | None]:
        """bridgekit's group-commit counters from ``/metrics`` (commits, accepted deliveries)."""
        import aiohttp

        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.get(
                    f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
                ) as resp,
            ):
                text = await resp.text()
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None, None
        return ingest_counters(text)

    def check_storage(self, db_path: Path, outcome: bytes) -> tuple[int, int, int]:
        """(messages stored, acknowledged event ids not stored, flow events still queued)."""
        stored_ids, backlog = stored_inbound(db_path, INTEGRATION)
        acked = [self.event_ids[i] for i, code in enumerate(outcome) if code == ACKED]
        missing = sum(1 for event_id in acked if event_id not in stored_ids)
        return len(stored_ids), missing, backlog

    # --- one round of one target ----------------------------------------------------------------

    async def run_round(self, target: str, number: int, sandbox_url: str) -> Round:
        workdir = self.workdir / f"{target}-{number}"
        workdir.mkdir()
        port = free_port()
        log_path = workdir / "server.log"
        if target in ("bridgekit", "before"):
            config = write_bridgekit_config(workdir, port, sandbox_url)
            python = self.args.before if target == "before" else sys.executable
            argv = [python, "-m", "bridgekit.cli", "serve", "--config", str(config)]
        else:
            argv = [
                sys.executable,
                str(SCRIPT),
                "--serve-baseline",
                target,
                "--port",
                str(port),
                "--db",
                str(workdir / "baseline.db"),
            ]
        proc = await self.spawn(argv, log_path, workdir)
        if self.args.show_pids:
            self.log(f"  ({LABELS[target]} run {number + 1}: pid {proc.pid}, port {port})")
        try:
            await self.wait_healthy(proc, port, log_path)
            result = await self.load(port, workdir, proc.pid)
            rnd = Round(target, float(result.get("requests_per_second", 0.0)), result)
            if target in ("bridgekit", "before") and "outcome" in result:
                rnd.commits, rnd.accepted = await self.commit_counters(port)
                rnd.stored, rnd.missing, rnd.flow_backlog = self.check_storage(
                    workdir / "bridgekit.db", result["outcome"]
                )
        finally:
            await self.stop(proc)
        if not self.args.keep:
            for name in (
                "bridgekit.db",
                "bridgekit.db-wal",
                "bridgekit.db-shm",
                "baseline.db",
                "outcome.bin",
            ):
                with contextlib.suppress(FileNotFoundError):
                    (workdir / name).unlink()
        return rnd

    def describe(self, rnd: Round, number: int) -> tuple[str, bool]:
        r = rnd.result
        if "error" in r:
            return f"  {LABELS[rnd.target]:<32} run {number + 1}: INVALID: {r['error']}", False
        ok = r["non_200"] == 0 and r["errors"] == 0
        text = (
            f"  {LABELS[rnd.target]:<32} run {number + 1}: {rnd.rps:8.0f} req/s"
            f"  ({r['measured_requests']} in {r['measured_seconds']:.2f} s; sent {r['sent']},"
            f" 200: {r['acked']}, non-200: {r['non_200']}, errors: {r['errors']}"
            f"{', pool exhausted' if r['pool_exhausted'] else ''})"
            f"\n    CPU during the measured window: server {pct(r.get('server_cpu'))}"
            f"{_cpu_note(rnd)}, load generator {pct(r.get('client_cpu'))}"
        )
        if not ok:
            text += f"\n    INVALID: statuses {r['statuses']}, samples {r['error_samples']}"
        commits = ""
        if rnd.commits:
            commits = (
                f"; {rnd.commits} group commits (mean {(rnd.accepted or 0) / rnd.commits:.1f} per commit)"
            )
        note, all_stored = storage_note(rnd, "ACKNOWLEDGED MESSAGES MISSING", commits)
        return text + note, ok and all_stored

    # --- the whole run ---------------------------------------------------------------------------

    async def run(self) -> int:
        from bridgekit_line.sandbox import LineSandbox

        a = self.args
        if self.client_cpus:
            os.sched_setaffinity(0, self.client_cpus)
            self.log(
                f"CPU pinning: servers on {sorted(self.server_cpus or ())},"
                f" load generator (and the LINE sandbox) on {sorted(self.client_cpus)}"
            )
        else:
            self.log("CPU pinning: off")
        self.warn_if_busy()
        line = LineSandbox(channel_secret=CHANNEL_SECRET, access_token=ACCESS_TOKEN)
        sandbox_url = await line.start(HOST, 0)
        try:
            users = [line.add_user(f"Customer {n:02d}") for n in range(USERS)]
            self.make_pool(line, users)
            self.log(
                f"{a.rounds} round(s) per target, interleaved; {a.concurrency} connections ({a.client}),"
                f" {a.warmup:g} s warm-up + {a.duration:g} s measured (at most {a.max_requests} requests)"
            )
            rounds: list[Round] = []
            valid = True
            for number in range(a.rounds):
                order = [t for t in TARGETS[number % 3 :] + TARGETS[: number % 3] if t in a.targets]
                order += ["before"] if a.before else []
                order += ["floor"] if a.floor else []
                for target in order:
                    try:
                        rnd = await self.run_round(target, number, sandbox_url)
                    except RuntimeError as exc:
                        self.log(f"  {LABELS[target]:<32} run {number + 1}: INVALID: {exc}")
                        self.log("INVALID RUN: a server did not start")
                        return 1
                    text, ok = self.describe(rnd, number)
                    self.log(text)
                    valid &= ok
                    rounds.append(rnd)
            profile_calls = sum(1 for r in line.requests if r.path.startswith("/v2/bot/profile/"))
        finally:
            await line.stop()
        self.log(f"LINE sandbox served {profile_calls} profile look-ups")
        return self.summarise(rounds, valid)

    def summarise(self, rounds: list[Round], valid: bool) -> int:
        med = {t: statistics.median([r.rps for r in rounds if r.target == t] or [0.0]) for t in ALL_TARGETS}
        if set(self.args.targets) != set(TARGETS):
            print()
            print(" | ".join(f"{LABELS[t]} {med[t]:.0f} req/s" for t in TARGETS if t in self.args.targets))
            print("(ratios need all three targets)")
            return 0 if valid else 1
        vs_a = med["bridgekit"] / med["a"] if med["a"] else 0.0
        vs_b = med["bridgekit"] / med["b"] if med["b"] else 0.0

        def verdict(ratio: float, target: float) -> str:
            return "met" if ratio >= target else "MISSED"

        print()
        print(
            f"bridgekit {med['bridgekit']:.0f} req/s | {LABELS['a']} {med['a']:.0f}"
            f" | {LABELS['b']} {med['b']:.0f}"
            f" | ratio vs a {vs_a:.2f} (target >= {TARGET_VS_A:g}) {verdict(vs_a, TARGET_VS_A)}"
            f" | ratio vs b {vs_b:.2f} (target >= {TARGET_VS_B:g}) {verdict(vs_b, TARGET_VS_B)}"
        )
        if med["before"]:
            print(
                f"before (--before {self.args.before}): {med['before']:.0f} req/s"
                f" | ratio vs a {med['before'] / med['a']:.2f} | ratio vs b {med['before'] / med['b']:.2f}"
                f" | after / before {med['bridgekit'] / med['before']:.2f}"
            )
        cpu = {t: statistics.median(c) for t in ("bridgekit", "before") if (c := _cpus(rounds, t))}
        if len(cpu) == 2:
            # A busy machine moves req/s with the share of a CPU each server got; the CPU time a
            # request cost moves much less: the comparison to trust when the run is disturbed.
            print(
                f"server CPU per request (medians): bridgekit {cpu['bridgekit']:.0f} us"
                f" | before {cpu['before']:.0f} us"
                f" | CPU-time after / before {cpu['before'] / cpu['bridgekit']:.2f}"
            )
        if med["before"]:
            print_changes(
                [r for r in rounds if r.target == "bridgekit"],
                [r for r in rounds if r.target == "before"],
                lambda r: r.rps,
                _cpu_per_request,
                "req/s",
            )
        if not check_rounds_stored(
            rounds, "acknowledged messages", "every acknowledged webhookEventId found in messages"
        ):
            valid = False
        if med["floor"]:
            us = {t: 1e6 / med[t] for t in ALL_TARGETS if med[t]}
            print(
                f"per request: floor {us['floor']:.0f} us (HTTP alone) | bridgekit {us['bridgekit']:.0f} us,"
                f" of which its own work {us['bridgekit'] - us['floor']:.0f} us"
                f" | the targets allow {us['a'] / TARGET_VS_A:.0f} us (a)"
                f" and {us['b'] / TARGET_VS_B:.0f} us (b)"
            )
        for name, ratio, target in (("a", vs_a, TARGET_VS_A), ("b", vs_b, TARGET_VS_B)):
            if ratio < target:
                print(f"MISSED: bridgekit is {ratio:.2f} x baseline-{name}, the target is >= {target:g} x")
        return exit_status(valid)


def _cpu_per_request(rnd: Round) -> float | None:
    """The server's CPU microseconds per answered request in the measured window."""
    r = rnd.result
    share, requests = r.get("server_cpu"), r.get("measured_requests")
    if share is None or not requests:
        return None
    return float(share) * float(r["measured_seconds"]) / int(requests) * 1e6


def _cpu_note(rnd: Round) -> str:
    us = _cpu_per_request(rnd)
    return f" ({us:.0f} us CPU per request)" if us is not None else ""


def _cpus(rounds: list[Round], target: str) -> list[float]:
    return [us for r in rounds if r.target == target and (us := _cpu_per_request(r)) is not None]


# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_options(p)
    p.add_argument("--concurrency", type=int, default=32, help="connections kept busy (default 32)")
    p.add_argument("--pool", type=int, help="pre-signed bodies (default 150000; --quick 30000)")
    p.add_argument("--max-requests", type=int, help="cap on requests per run (default: the pool)")
    p.add_argument(
        "--client",
        choices=("raw", "aiohttp"),
        default="raw",
        help="load generator: pre-built bytes on asyncio streams (default) or aiohttp.ClientSession",
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin servers and load generator to CPUs")
    p.add_argument(
        "--targets",
        type=lambda v: [t.strip() for t in v.split(",") if t.strip()],
        default=list(TARGETS),
        help="comma-separated subset of bridgekit,a,b (default: all three; ratios need all three)",
    )
    p.add_argument(
        "--floor",
        action="store_true",
        help="also measure a bare aiohttp handler and print a per-request budget",
    )
    add_before_option(p)
    p.add_argument("--show-pids", action="store_true", help="print each server's pid (to attach py-spy)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (prints its path)")
    # Internal roles: the same file is the baseline server and the load generator.
    p.add_argument("--serve-baseline", choices=("a", "b", "floor"), help=argparse.SUPPRESS)
    add_load_role_options(p)
    p.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--pool-file", type=Path, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port, args.db)
        return 0
    if unknown := set(args.targets) - set(TARGETS):
        build_parser().error(f"unknown target(s): {', '.join(sorted(unknown))}")
    resolve_rounds(args)
    args.pool = args.pool or (30_000 if args.quick else 150_000)
    args.max_requests = args.max_requests or args.pool
    if args.load:
        result = asyncio.run(run_load(args))
        outcome = result.pop("outcome", None)
        if outcome is not None:
            args.result.write_bytes(outcome)
        print(json.dumps(result))
        return 0
    return run_in_workdir("bench-line-ingest-", args.keep, lambda workdir: Bench(args, workdir).run())


if __name__ == "__main__":
    sys.exit(main())
