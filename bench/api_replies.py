"""Managers' replies through the HTTP API: bridgekit vs. a bare aiohttp + sqlite3 handler.

Both run in this process, one after the other, each serving real HTTP on a local port, and
are driven the same way: an ``aiohttp.ClientSession`` posting ``{"text": ...}`` with a bearer
token to ``/api/v1/chats/{id}/messages``, ``--concurrency`` at a time, N replies in all.

* ``bridgekit`` -- a real bridgekit (``bridgekit.testing.harness.start_bridge``, a SQLite file,
  the ``sms`` plugin, one integration), its heap settled as ``bridgekit serve`` settles it. A
  manager starts a chat with a phone number, then replies. Each reply is authenticated,
  checked (channel limits, macros, mentions), stored with its outbox job and its events in one
  transaction, and answered 201. The outbox is stopped first: sending is not timed here
  (``bench/sms_outbox.py`` times it).
* ``baseline`` -- a bare aiohttp handler that looks the token's hash up, then inserts the
  message and its outbox row in one ``BEGIN IMMEDIATE`` transaction with stdlib ``sqlite3``
  (WAL, ``synchronous=NORMAL``, as bridgekit) on the event loop, and answers 201 with the id:
  a durable floor.

Printed: replies per second and CPU per reply (this process's CPU time, client included, the
same client for both) for each, their ratios, and every reply found stored afterwards.
``--before PYTHON`` also runs the bridgekit part under another checkout's Python
(``--role bridgekit``), interleaved, and prints after / before.

    python bench/api_replies.py             # 2,000 replies, 3 rounds
    python bench/api_replies.py --quick     # 200 replies, 1 round: smoke test
    python bench/api_replies.py --before /tmp/before/.venv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from benchlib import print_changes, start_sms_bridge, start_sms_chat

HOST = "127.0.0.1"
SCRIPT = Path(__file__).resolve()


async def post_replies(url: str, token: str, n: int, concurrency: int) -> tuple[float, float]:
    """Post n replies to ``url``, ``concurrency`` at a time: (replies a second, CPU a reply)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def replier() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                async with session.post(url, json={"text": f"Reply {i} of the run"}) as resp:
                    data = await resp.json()
                    if resp.status != 201 or not isinstance(data.get("id"), int):
                        raise SystemExit(f"reply refused: {resp.status} {data}")

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(replier() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return n / elapsed, cpu / n


async def run_bridgekit(n: int, concurrency: int) -> tuple[float, float]:
    from bridgekit.web.server import settle_the_heap

    with tempfile.TemporaryDirectory() as tmp:
        # Never called: the outbox is stopped.
        running, plugin = await start_sms_bridge(Path(tmp), "http://127.0.0.1:9")
        try:
            outbox = running.bridge.outbox
            assert outbox is not None
            await outbox.stop()
            settle_the_heap()
            chat_id = await start_sms_chat(running)
            token = running.session.headers["Authorization"].removeprefix("Bearer ")
            url = f"{running.url}/api/v1/chats/{chat_id}/messages"
            await post_replies(url, token, min(50, n), concurrency)  # warm-up
            rate, cpu = await post_replies(url, token, n, concurrency)
            stored = _count(Path(tmp) / "bench.sqlite3", chat_id)
            if stored != n + min(50, n) + 1:
                raise SystemExit(f"bridgekit stored {stored} replies, expected {n + min(50, n) + 1}")
        finally:
            await running.close()
            await plugin.aclose()
    return rate, cpu


def _count(db: Path, chat_id: int) -> int:
    with sqlite3.connect(db) as conn:
        (queued,) = conn.execute(
            "SELECT count(*) FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.chat_id = ?",
            (chat_id,),
        ).fetchone()
    return int(queued)


BASELINE_SCHEMA = """
CREATE TABLE managers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT UNIQUE);
CREATE TABLE messages (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, author_id INTEGER,
    text TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX ix_messages_chat ON messages (chat_id, id);
CREATE TABLE outbox (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL, idempotency_key TEXT
    NOT NULL UNIQUE, state TEXT NOT NULL, next_attempt_at TEXT NOT NULL);
CREATE INDEX ix_outbox_due ON outbox (state, next_attempt_at);
"""


async def run_baseline(n: int, concurrency: int) -> tuple[float, float]:
    token = "bench-baseline-token"
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "baseline.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(BASELINE_SCHEMA)
        db.execute(
            "INSERT INTO managers (name, token_hash) VALUES ('Bench', ?)",
            (hashlib.sha256(token.encode()).hexdigest(),),
        )

        async def reply(request: web.Request) -> web.Response:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            row = db.execute(
                "SELECT id FROM managers WHERE token_hash = ?", (hashlib.sha256(given.encode()).hexdigest(),)
            ).fetchone()
            if row is None:
                return web.json_response({"error": "invalid token"}, status=401)
            text = (await request.json())["text"]
            now = time.strftime("%Y-%m-%d %H:%M:%S")
            db.execute("BEGIN IMMEDIATE")
            message_id = db.execute(
                "INSERT INTO messages (chat_id, author_id, text, created_at) VALUES (?, ?, ?, ?)",
                (int(request.match_info["chat_id"]), row[0], text, now),
            ).lastrowid
            db.execute(
                "INSERT INTO outbox (message_id, idempotency_key, state, next_attempt_at)"
                " VALUES (?, ?, 'pending', ?)",
                (message_id, os.urandom(16).hex(), now),
            )
            db.execute("COMMIT")
            return web.json_response({"id": message_id, "kind": "reply", "text": text}, status=201)

        app = web.Application()
        app.router.add_post("/api/v1/chats/{chat_id}/messages", reply)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            url = f"http://{HOST}:{port}/api/v1/chats/1/messages"
            await post_replies(url, token, min(50, n), concurrency)
            rate, cpu = await post_replies(url, token, n, concurrency)
            (stored,) = db.execute("SELECT count(*) FROM outbox").fetchone()
            if stored != n + min(50, n):
                raise SystemExit(f"the baseline stored {stored} replies")
        finally:
            await runner.cleanup()
            db.close()
    return rate, cpu


def run_before(python: str, n: int, concurrency: int) -> tuple[float, float]:
    out = subprocess.run(
        [python, str(SCRIPT), "--role", "bridgekit", "--replies", str(n), "--concurrency", str(concurrency)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return float(result["rate"]), float(result["cpu"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 replies, 1 round")
    parser.add_argument("--before", metavar="PYTHON", help="also run the bridgekit part under this Python")
    parser.add_argument("--role", choices=["bridgekit"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.replies, args.rounds = 200, 1
    if args.role == "bridgekit":  # one measurement for --before, as JSON on the last line
        rate, cpu = asyncio.run(run_bridgekit(args.replies, args.concurrency))
        print(json.dumps({"rate": rate, "cpu": cpu}))
        return 0
    results: dict[str, list[tuple[float, float]]] = {"bridgekit": [], "baseline": [], "before": []}
    for r in range(args.rounds):
        for target in ("bridgekit", "baseline", "before"):
            if target == "before" and not args.before:
                continue
            if target == "bridgekit":
                rate, cpu = asyncio.run(run_bridgekit(args.replies, args.concurrency))
            elif target == "baseline":
                rate, cpu = asyncio.run(run_baseline(args.replies, args.concurrency))
            else:
                rate, cpu = run_before(args.before, args.replies, args.concurrency)
            results[target].append((rate, cpu))
            print(
                f"  {target:9s} round {r + 1}: {rate:7.0f} replies/s, {cpu * 1000:6.3f} ms CPU a reply",
                flush=True,
            )
    rate = {k: statistics.median(x[0] for x in v) for k, v in results.items() if v}
    cpu = {k: statistics.median(x[1] for x in v) for k, v in results.items() if v}
    print(
        f"\nbridgekit {rate['bridgekit']:.0f} replies/s ({cpu['bridgekit'] * 1000:.2f} ms CPU a reply) | "
        f"baseline {rate['baseline']:.0f} ({cpu['baseline'] * 1000:.2f} ms) | "
        f"ratio {rate['bridgekit'] / rate['baseline']:.2f} | CPU x {cpu['bridgekit'] / cpu['baseline']:.2f}"
    )
    if "before" in rate:
        print(
            f"before ({args.before}): {rate['before']:.0f} replies/s "
            f"({cpu['before'] * 1000:.2f} ms CPU a reply) | "
            f"after / before {rate['bridgekit'] / rate['before']:.2f} | CPU after / before "
            f"{cpu['bridgekit'] / cpu['before']:.2f}"
        )
        print_changes(results["bridgekit"], results["before"], lambda r: r[0], lambda r: r[1], "replies/s")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
