"""From a LINE webhook's acknowledgement to its message on an open inbox's event stream (issue #14).

A real ``bridgekit serve`` runs as in ``bench/line_ingest.py`` (SQLite file, the LINE plugin,
one integration pointed at a LINE sandbox this script runs, the server pinned to its own CPU).
A manager created with ``bridgekit managers create`` opens the inbox's event stream
(``GET /api/v1/events``, Server-Sent Events, bearer token), as the web inbox does. A load
generator process then posts pre-signed LINE webhooks at the LINE benchmark's load (32
keep-alive connections, as fast as the server answers, one text message per webhook from one
of 50 customers) and notes when each 200 arrives; this process notes when each
``message.created`` event arrives on the stream. Both use the system's monotonic clock. After
the run each acknowledged webhookEventId is looked up in bridgekit's ``messages`` table to pair
its message id with its event.

Printed: the load achieved (requests per second), then, over the webhooks acknowledged during
the measured window, the median, p99 and maximum of "event received - 200 received" (an event
that came before its 200 counts as 0 ms; how many did is printed too), and the issue's
expectation "a customer message shows up in an open inbox within one second" as met or MISSED
(on the p99 and on every message having arrived at all).

    python bench/inbox_latency.py            # 2 s warm-up + 10 s measured, as line_ingest.py
    python bench/inbox_latency.py --quick    # 0.5 s + 2 s: a smoke test

Exit status 0 when the measurement is valid (a missed expectation is printed as MISSED), 1 when
it is not (a non-200, a lost message, a server that did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import (
    ACKED,
    HOST,
    BenchRun,
    LoadState,
    add_load_role_options,
    free_port,
    http_worker,
    load_argv,
    pct,
    run_in_workdir,
    run_load_generator,
    spawn,
    stop,
    wait_healthy,
)
from line_ingest import (
    ACCESS_TOKEN,
    CHANNEL_SECRET,
    USERS,
    _build_request,
    write_bridgekit_config,
    write_signed_pool,
)

SCRIPT = Path(__file__).resolve()
WITHIN = 1.0  # seconds: "a customer message shows up in an open inbox within one second"
TOKEN_LINE = re.compile(r"API token \(shown once\): (\S+)")


# --------------------------------------------------------------------------------------------
# Load generator (``--load``): its own process, noting when each 200 came
# --------------------------------------------------------------------------------------------


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    with args.pool_file.open("rb") as fh:
        pool: list[tuple[bytes, str]] = pickle.load(fh)
    state = LoadState([_build_request(args.port, b, s) for b, s in pool], bytearray(len(pool)), ok=200)
    acked_at = [0.0] * len(pool)
    tasks = [
        asyncio.ensure_future(http_worker(state, args.port, args.timeout, acked_at))
        for _ in range(args.concurrency)
    ]
    await asyncio.sleep(args.warmup)
    window_start, c0 = time.monotonic(), state.completed
    await asyncio.wait(tasks, timeout=args.duration)
    window_end, c1 = time.monotonic(), state.completed
    exhausted = state.next_index >= len(pool)
    state.stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    args.result.write_bytes(bytes(state.outcome))
    return {
        "acked_at": acked_at,
        "window": [window_start, window_end],
        "requests_per_second": (c1 - c0) / (window_end - window_start),
        "sent": state.next_index,
        "non_200": sum(v for k, v in state.counts.items() if k != 200),
        "errors": len(state.errors),
        "error_samples": state.errors[:5],
        "pool_exhausted": exhausted,
    }


# --------------------------------------------------------------------------------------------
# The inbox's event stream, read as the web inbox reads it
# --------------------------------------------------------------------------------------------


class Stream:
    """A manager's open ``/api/v1/events``: when each inbound ``message.created`` arrived."""

    def __init__(self, port: int, token: str) -> None:
        self.url = f"http://{HOST}:{port}/api/v1/events"
        self.token = token
        self.arrived: dict[int, float] = {}  # message id -> monotonic time
        self.connected = asyncio.Event()
        self.changed = asyncio.Event()  # set on each arrival
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._task = asyncio.ensure_future(self._read())
        done, _ = await asyncio.wait({self._task, asyncio.ensure_future(self.connected.wait())}, timeout=10)
        if self._task in done or not self.connected.is_set():
            raise RuntimeError(
                f"the event stream did not open: {self._task.exception() if done else 'timeout'}"
            )

    async def _read(self) -> None:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self.url, headers=headers) as resp,
        ):
            if resp.status != 200:
                raise RuntimeError(f"GET /api/v1/events answered {resp.status}: {await resp.text()}")
            kind = ""
            async for raw in resp.content:
                now = time.monotonic()
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "message.created":
                    data = json.loads(line[6:])
                    if data.get("direction") == "inbound":
                        self.arrived.setdefault(int(data["message_id"]), now)
                        self.changed.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of an ascending list."""
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class LatencyBench(BenchRun):
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir)
        self.pool_path = workdir / "pool.pickle"
        self.event_ids: list[str] = []

    def make_pool(self, line: Any, users: list[str]) -> None:
        text = "Hello, is my order on its way? (#{})".format
        self.event_ids = write_signed_pool(line, users, self.args.pool, text, self.pool_path)

    async def manager_token(self, config: Path) -> str:
        """A manager made as an operator would make one: ``bridgekit managers create``."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridgekit.cli",
            "managers",
            "create",
            "--config",
            str(config),
            "Bench Manager",
            "--operator",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.workdir,
        )
        out = (await proc.communicate())[0].decode(errors="replace")
        found = TOKEN_LINE.search(out)
        if proc.returncode != 0 or found is None:
            raise RuntimeError(f"bridgekit managers create failed:\n{out}")
        return found.group(1)

    async def load(self, port: int) -> dict[str, Any]:
        a = self.args
        result_path = self.workdir / "outcome.bin"
        argv = [*load_argv(SCRIPT, port, result_path, a), "--pool-file", str(self.pool_path)]
        return await run_load_generator(argv, self.client_cpus, a.warmup + a.duration + 120, result_path)

    def message_ids(self, db_path: Path) -> dict[str, int]:
        """webhookEventId -> message id, from bridgekit's own table."""
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT event_id, id FROM messages WHERE direction = 'inbound'").fetchall()
        finally:
            conn.close()
        return {str(event_id): int(mid) for event_id, mid in rows if event_id is not None}

    async def run(self) -> int:
        from bridgekit_line.sandbox import LineSandbox

        a = self.args
        if self.client_cpus:
            os.sched_setaffinity(0, self.client_cpus)
            server = sorted(self.server_cpus or ())
            self.log(f"CPU pinning: server on {server}, the rest on {sorted(self.client_cpus)}")
        with contextlib.suppress(OSError):
            load = os.getloadavg()[0]
            if load > 0.5 * (os.cpu_count() or 1):
                self.log(f"WARNING: the machine is busy (load average {load:.1f}); figures may be disturbed")
        line = LineSandbox(channel_secret=CHANNEL_SECRET, access_token=ACCESS_TOKEN)
        sandbox_url = await line.start(HOST, 0)
        port = free_port()
        config = write_bridgekit_config(self.workdir, port, sandbox_url)
        log_path = self.workdir / "server.log"
        proc: asyncio.subprocess.Process | None = None
        stream: Stream | None = None
        try:
            self.make_pool(line, [line.add_user(f"Customer {n:02d}") for n in range(USERS)])
            token = await self.manager_token(config)
            argv = [sys.executable, "-m", "bridgekit.cli", "serve", "--config", str(config)]
            proc = await spawn(argv, log_path, self.workdir, self.server_cpus)
            await wait_healthy(proc, port, log_path)
            stream = Stream(port, token)
            await stream.open()
            self.log(
                f"event stream open; {a.concurrency} connections posting LINE webhooks,"
                f" {a.warmup:g} s warm-up + {a.duration:g} s measured"
            )
            result = await self.load(port)
            if "error" in result:
                self.log(f"INVALID: {result['error']}")
                return 1
            ids = self.message_ids(self.workdir / "bridgekit.db")
            acked = [i for i, code in enumerate(result["outcome"]) if code == ACKED]
            wanted = {ids[self.event_ids[i]] for i in acked if self.event_ids[i] in ids}
            deadline = time.monotonic() + 10  # the last events are still on their way
            while (left := deadline - time.monotonic()) > 0 and not wanted <= stream.arrived.keys():
                stream.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.changed.wait(), left)
        except RuntimeError as exc:
            self.log(f"INVALID: {exc}")
            return 1
        finally:
            if stream is not None:
                await stream.close()
            if proc is not None:
                await stop(proc)
            await line.stop()
        return self.summarise(result, acked, ids, stream.arrived)

    def summarise(
        self, result: dict[str, Any], acked: list[int], ids: dict[str, int], arrived: dict[int, float]
    ) -> int:
        start, end = result["window"]
        acked_at: list[float] = result["acked_at"]
        valid = result["non_200"] == 0 and result["errors"] == 0
        self.log(
            f"load: {result['requests_per_second']:.0f} webhooks/s acknowledged during the measured window"
            f" (sent {result['sent']}, non-200: {result['non_200']}, errors: {result['errors']}"
            f"{', pool exhausted: raise --pool' if result['pool_exhausted'] else ''})"
        )
        if not valid:
            self.log(f"INVALID: samples {result['error_samples']}")
        lost = [i for i in acked if self.event_ids[i] not in ids]
        if lost:
            self.log(f"INVALID: {len(lost)} acknowledged webhooks have no stored message")
            valid = False
        measured = [i for i in acked if start <= acked_at[i] <= end and self.event_ids[i] in ids]
        message_of = {i: ids[self.event_ids[i]] for i in measured}
        missing = {i for i in measured if message_of[i] not in arrived}
        seen = [i for i in measured if i not in missing]
        delays = sorted(max(0.0, arrived[message_of[i]] - acked_at[i]) for i in seen)
        early = sum(1 for i in seen if arrived[message_of[i]] < acked_at[i])
        if not delays:
            self.log("INVALID: no acknowledged webhook in the measured window")
            return 1
        median, p99, worst = statistics.median(delays), percentile(delays, 99), delays[-1]
        within = sum(1 for d in delays if d <= WITHIN) / len(measured)
        self.log(
            f"200 -> event on the stream, over {len(measured)} messages: median {median * 1000:.1f} ms,"
            f" p99 {p99 * 1000:.1f} ms, max {worst * 1000:.1f} ms"
            f" ({early} events ({pct(early / len(measured))}) arrived before their 200;"
            f" {len(missing)} never arrived)"
        )
        met = p99 <= WITHIN and not missing
        verdict = "met" if met else "MISSED"
        self.log(
            f'"a customer message shows up in an open inbox within one second": {pct(within)} within 1 s,'
            f" p99 {p99 * 1000:.0f} ms (target <= {WITHIN * 1000:.0f} ms) {verdict}"
        )
        return 0 if valid else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="0.5 s warm-up + 2 s measured (smoke test)")
    p.add_argument("--duration", type=float, help="measured seconds (default 10; --quick 2)")
    p.add_argument("--warmup", type=float, help="warm-up seconds (default 2; --quick 0.5)")
    p.add_argument("--concurrency", type=int, default=32, help="connections kept busy (default 32)")
    p.add_argument("--pool", type=int, help="pre-signed bodies (default 60000; --quick 15000)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the server to its own CPU")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (prints its path)")
    # Internal role: the same file is the load generator.
    add_load_role_options(p)
    p.add_argument("--pool-file", type=Path, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.load:
        print(json.dumps(asyncio.run(run_load(args))))
        return 0
    args.duration = args.duration if args.duration is not None else (2.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)
    args.pool = args.pool or (15_000 if args.quick else 60_000)
    return run_in_workdir(
        "bench-inbox-latency-", args.keep, lambda workdir: LatencyBench(args, workdir).run()
    )


if __name__ == "__main__":
    sys.exit(main())
