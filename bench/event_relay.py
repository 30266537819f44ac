"""Realtime events across processes: latency and CPU of the LISTEN/NOTIFY relay (issue 17).

Two relays, each with its own event bus and its own PostgreSQL connections, as two
``bridgekit serve`` processes have them, on a fresh database of the server named by
``BRIDGEKIT_TEST_POSTGRES``. A subscriber on bus B; bus A publishes bursts of events shaped
like a group commit's ``message.created`` (``--batch`` per burst, ``--bursts`` bursts,
``--gap`` seconds apart), one large event (``--large`` bytes) per ``--large-every`` bursts.
Each event is its chat's next group (``data["chat_seq"]``, 97 chats), as on PostgreSQL, so
both buses put it through the per-chat ordering (``ChatOrder``); ``--unnumbered`` leaves the
numbers out (as before them). Reports the latency from A's publish to the moment B hands the
event to its streams (median, 99th percentile, max) and the CPU time of this process per
event (both sides: send and receive, an upper bound for each).

    BRIDGEKIT_TEST_POSTGRES=postgresql://postgres@127.0.0.1:55499/postgres python bench/event_relay.py

Exit status 0 when every event arrived, once, in order; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bridgekit.runtime.events import CHAT_SEQ, Event, EventBus
from bridgekit.storage.db import Database
from bridgekit.storage.event_relay import EventRelay, listen_dsn
from bridgekit.testing.databases import postgres_admin_url, temporary_database


class TimedBus(EventBus):
    """Records when each relayed event reaches the streams (after the per-chat ordering)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[int, float]] = []  # (message_id, latency in seconds)
        self.expected = 0
        self.all_arrived = asyncio.Event()

    def fan_out(self, event: Event) -> None:
        latency = time.perf_counter() - float(event.data["sent_at"])
        self.arrivals.append((int(event.data["message_id"]), latency))
        super().fan_out(event)
        if len(self.arrivals) >= self.expected:
            self.all_arrived.set()


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with temporary_database("postgresql", Path(tmp)) as url:
            dsn = listen_dsn(Database(url).sqlalchemy_url)
            bus_a, bus_b = EventBus(), TimedBus()
            relay_a, relay_b = EventRelay(dsn, bus_a), EventRelay(dsn, bus_b)
            await relay_a.start()
            await relay_b.start()
            try:
                return await measure(args, bus_a, bus_b)
            finally:
                await relay_a.stop()
                await relay_b.stop()


async def measure(args: argparse.Namespace, bus_a: EventBus, bus_b: TimedBus) -> int:
    total = args.batch * args.bursts
    large = "x" * args.large
    bus_b.expected = total
    cpu0, wall0 = time.process_time(), time.perf_counter()
    n = 0
    seqs = [0] * 97
    for burst in range(args.bursts):
        sent_at = time.perf_counter()
        for _ in range(args.batch):
            data: dict[str, object] = {"chat_id": n % 97, "message_id": n, "direction": "inbound"}
            if not args.unnumbered:
                seqs[n % 97] += 1
                data[CHAT_SEQ] = seqs[n % 97]
            if args.large_every and burst % args.large_every == 0 and n % args.batch == 0:
                data["text"] = large
            bus_a.publish(Event("message.created", data | {"sent_at": sent_at}))
            n += 1
        await asyncio.sleep(args.gap)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(bus_b.all_arrived.wait(), 5.0)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    order = [message_id for message_id, _ in bus_b.arrivals]
    latencies = [latency for _, latency in bus_b.arrivals]
    valid = order == list(range(total))
    ms = sorted(x * 1000 for x in latencies)
    print(
        f"events: {total} in {args.bursts} bursts of {args.batch}, one of {args.large} bytes every "
        f"{args.large_every} bursts, {'unnumbered' if args.unnumbered else 'numbered per chat'};"
        f" arrived {len(order)}, in order and once: {valid}"
    )
    if ms:
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(
            f"latency A publish -> B delivery: median {statistics.median(ms):.2f} ms, "
            f"p99 {p99:.2f} ms, max {ms[-1]:.2f} ms"
        )
    print(
        f"CPU of both relays and buses: {cpu / total * 1e6:.1f} us per event "
        f"({cpu:.2f} s CPU in {wall:.2f} s)"
    )
    return 0 if valid else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32, help="events per burst (default 32)")
    p.add_argument("--bursts", type=int, default=500, help="bursts (default 500)")
    p.add_argument("--gap", type=float, default=0.005, help="seconds between bursts (default 0.005)")
    p.add_argument("--large", type=int, default=20_000, help="bytes of the large event (default 20000)")
    p.add_argument("--large-every", type=int, default=50, help="a large event every N bursts (0: none)")
    p.add_argument("--unnumbered", action="store_true", help="events without their chat's number")
    args = p.parse_args()
    if postgres_admin_url() is None:
        print("set BRIDGEKIT_TEST_POSTGRES to a PostgreSQL server where a database may be created")
        return 1
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
