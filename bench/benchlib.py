"""Helpers shared by the benchmarks (run as scripts: ``python bench/<name>.py``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


# Per-request outcome codes in a load generator's result file (one byte per pool entry).
NOT_SENT, ACKED, REFUSED, FAILED = 0, 1, 2, 3


@dataclass
class LoadState:
    """A load generator's pool of pre-built requests and what became of each one."""

    items: list[bytes]
    outcome: bytearray
    ok: int  # the answer that acknowledges: 200 for HTTP, 250 for SMTP
    stop: bool = False
    next_index: int = 0
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)  # answers by status or reply code

    def take(self) -> int | None:
        if self.stop or self.next_index >= len(self.items):
            return None
        self.next_index += 1
        return self.next_index - 1

    def done(self, index: int, code: int) -> None:
        self.completed += 1
        self.counts[code] = self.counts.get(code, 0) + 1
        self.outcome[index] = ACKED if code == self.ok else REFUSED

    def failed(self, index: int, exc: BaseException) -> None:
        """The request at ``index`` got no answer (its connection broke or timed out)."""
        self.outcome[index] = FAILED
        self.errors.append(f"{type(exc).__name__}: {exc}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEKIT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc; None elsewhere."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds of a process and every live descendant (``serve --workers N``: the
    supervisor and its workers), from /proc; None elsewhere."""
    own = cpu_seconds(pid)
    if own is None or not pid:
        return own
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = own, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        total += cpu_seconds(child) or 0.0
        todo.extend(children.get(child, []))
    return total


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def tail(path: Path, size: int = 3000) -> str:
    """The end of a server's log, for an error message."""
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


def pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child process to ``cpus`` (None: no pinning)."""
    if not cpus:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cpus)

    return pin


async def spawn(
    argv: list[str], log_path: Path, cwd: Path, cpus: set[int] | None
) -> asyncio.subprocess.Process:
    """Start a server process pinned to ``cpus``, its output appended to ``log_path``."""
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=child_env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=pinned(cpus),
        )


async def stop(proc: asyncio.subprocess.Process) -> None:
    """SIGINT (a clean shutdown), then SIGKILL after 15 s."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def run_load_generator(
    argv: list[str], cpus: set[int] | None, timeout: float, result_path: Path
) -> dict[str, Any]:
    """Run a load generator process; its last stdout line is a JSON result, and the per-request
    outcomes it wrote to ``result_path`` come back under ``"outcome"``."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=pinned(cpus),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"error": "the load generator did not finish in time"}
    if proc.returncode != 0:
        return {"error": f"load generator exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}"}
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    if "error" not in result:
        result["outcome"] = _read(result_path)
    return result


def _read(path: Path) -> bytes:
    return path.read_bytes()


def run_in_workdir(prefix: str, keep: bool, run: Callable[[Path], Awaitable[int]]) -> int:
    """``run`` a bench in a fresh temporary folder (its databases, configurations, logs),
    removed afterwards unless ``keep`` (then its path is printed); returns the exit status."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return asyncio.run(run(workdir))
    finally:
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# --- HTTP load: pre-built request bytes on keep-alive connections --------------------------


async def read_http_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; returns (status, server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise ConnectionError(f"response without Content-Length: {head[:200]!r}")
    end = lower.index(b"\r\n", at + 2)
    length = int(head[at + 17 : end])
    if length:
        await reader.readexactly(length)
    return status, b"\r\nconnection: close" in lower


async def http_worker(
    state: LoadState, port: int, timeout: float, acked_at: list[float] | None = None
) -> None:
    """One keep-alive connection sending pre-built request bytes (lighter than a client lib);
    the monotonic time of each answer goes to ``acked_at`` when given."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while (index := state.take()) is not None:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                assert reader is not None
                writer.write(state.items[index])
                status, close = await asyncio.wait_for(read_http_response(reader), timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
                state.failed(index, exc)
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            if acked_at is not None:
                acked_at[index] = time.monotonic()
            state.done(index, status)
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def wait_healthy(proc: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
    """Until the server on ``port`` answers 200 at ``/health`` (60 s at the most)."""
    import aiohttp

    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline and proc.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with session.get(f"http://{HOST}:{port}/health") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not become healthy:\n{tail(log_path)}")


# --- the measured window of a load generator -------------------------------------------------


@dataclass
class Window:
    """What a load generator did between the warm-up's end and the measurement's."""

    completed: int
    seconds: float
    warmup_seconds: float
    exhausted: bool  # the pool ran out before the window closed
    crashes: list[str]  # workers that raised
    rates: dict[str, float | None]  # "client_cpu" and each probe's change per second

    def common(self, state: LoadState) -> dict[str, Any]:
        """The result's entries every load generator reports the same way."""
        return {
            "errors": len(state.errors) + len(self.crashes),
            "error_samples": (state.errors + self.crashes)[:5],
            "pool_exhausted": self.exhausted,
            **self.rates,
        }


async def measure(
    state: LoadState,
    tasks: list[asyncio.Future[None]],
    warmup: float,
    duration: float,
    probes: Mapping[str, Callable[[], float | None]],
) -> Window | None:
    """Warm up, then measure ``duration`` seconds of ``tasks`` working ``state``; stop them and
    let in-flight requests finish. None when the pool ran out during the warm-up. Each probe
    (a counter of the server's, such as its CPU seconds) is read as the window opens and closes."""
    probes = {"client_cpu": time.process_time, **probes}
    started = time.monotonic()
    done, _ = await asyncio.wait(tasks, timeout=warmup)
    if done:
        state.stop = True
        await asyncio.gather(*tasks, return_exceptions=True)
        return None
    c0, t0, before = state.completed, time.monotonic(), {name: probe() for name, probe in probes.items()}
    _, pending = await asyncio.wait(tasks, timeout=duration)
    c1, t1, after = state.completed, time.monotonic(), {name: probe() for name, probe in probes.items()}
    state.stop = True
    drained = await asyncio.gather(*tasks, return_exceptions=True)  # in-flight requests finish
    rates: dict[str, float | None] = {}
    for name in probes:
        start, end = before[name], after[name]
        rates[name] = (end - start) / (t1 - t0) if start is not None and end is not None else None
    return Window(
        completed=c1 - c0,
        seconds=t1 - t0,
        warmup_seconds=t0 - started,
        exhausted=not pending,
        crashes=[repr(r) for r in drained if isinstance(r, BaseException)],
        rates=rates,
    )


# --- the servers' side -----------------------------------------------------------------------


def config_head(workdir: Path, port: int) -> str:
    """The start of a ``bridgekit.toml`` for a bench run: its data, SQLite file and HTTP port."""
    return (
        f'data_dir = "{workdir / "data"}"\n'
        "\n[database]\n"
        f'url = "sqlite+aiosqlite:///{workdir / "bridgekit.db"}"\n'
        "\n[server]\n"
        f'host = "{HOST}"\n'
        f"port = {port}\n"
    )


def stored_inbound(db_path: Path, integration: str) -> tuple[set[str], int]:
    """The event ids of the inbound messages ``integration`` stored, and how many flow events are
    still queued, read from a run's SQLite file."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        stored_ids = {
            row[0]
            for row in conn.execute(
                "SELECT m.event_id FROM messages m JOIN integrations i ON i.id = m.integration_id"
                " WHERE i.name = ? AND m.direction = 'inbound'",
                (integration,),
            )
        }
        backlog = conn.execute("SELECT count(*) FROM flow_events").fetchone()[0]
    finally:
        conn.close()
    return stored_ids, int(backlog)


def ingest_counters(metrics: str) -> tuple[int, int]:
    """(group commits, accepted events) from a ``/metrics`` text."""
    commits = accepted = 0
    for line in metrics.splitlines():
        name, _, value = line.rpartition(" ")
        if name == "bridgekit_ingest_commits_total":
            commits += int(value)
        elif name.startswith("bridgekit_ingest_total{") and 'outcome="accepted"' in name:
            accepted += int(value)
    return commits, accepted


# --- before / after ---------------------------------------------------------------------------

#: How sure a before / after interval is: with fewer rounds it is as sure as they allow.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedChange:
    """A ratio of one measure, after over before (above 1: better now), paired round by round
    (the two ran back to back), with an interval that holds the true median ratio with
    probability ``confidence``."""

    ratios: tuple[float, ...]
    median: float
    low: float
    high: float
    confidence: float

    @property
    def verdict(self) -> str:
        if self.high < 1:
            return "a drop"
        if self.low > 1:
            return "a gain"
        return "no change shown"

    def describe(self, what: str) -> str:
        each = " ".join(f"{r:.2f}" for r in self.ratios)
        return (
            f"{what} by round: {each} | median {self.median:.2f},"
            f" {self.confidence:.0%} interval {self.low:.2f}-{self.high:.2f}: {self.verdict}"
        )


def paired_change(after: Sequence[float], before: Sequence[float]) -> PairedChange | None:
    """Round ``i``'s ``after[i] / before[i]``, their median and a distribution-free interval for
    it (the sign test's order statistics: no assumption about this machine's noise, which moves
    single runs by up to 8%). The interval is the narrowest pair of order statistics that holds
    the median with at least ``CONFIDENCE``; with fewer than six rounds no pair can, and it is
    the lowest to the highest ratio with the confidence those rounds give (3 rounds: 75%).
    None without a pair."""
    ratios = [a / b for a, b in zip(after, before, strict=False) if b > 0]
    n = len(ratios)
    if n == 0:
        return None
    ordered = sorted(ratios)
    # The interval from the k-th lowest to the k-th highest misses the median when k or fewer
    # of the n ratios fall on one side of it: 2 * P(Binomial(n, 1/2) < k).
    k, confidence = 1, 1 - 2 * 0.5**n
    while k + 1 <= (n + 1) // 2:
        wider = 1 - 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n
        if wider < CONFIDENCE:
            break
        k, confidence = k + 1, wider
    return PairedChange(tuple(ratios), statistics.median(ratios), ordered[k - 1], ordered[n - k], confidence)


def print_changes(
    after: Sequence[Any],
    before: Sequence[Any],
    rate: Callable[[Any], float],
    cpu: Callable[[Any], float | None],
    unit: str,
) -> None:
    """Print :func:`paired_change` of the rate (``unit`` a second) and of the CPU time a unit
    of the rounds ``after[i]`` and ``before[i]`` (the same round), where both have them."""
    pairs = list(zip(after, before, strict=False))
    if change := paired_change([rate(a) for a, _ in pairs], [rate(b) for _, b in pairs]):
        print(change.describe(f"{unit} after / before"))
    cpus = [(x, y) for a, b in pairs if (x := cpu(a)) and (y := cpu(b))]
    if change := paired_change([y for _, y in cpus], [x for x, _ in cpus]):
        print(change.describe("CPU time before / after (above 1: cheaper now)"))


# --- the command line ------------------------------------------------------------------------


def add_round_options(p: argparse.ArgumentParser) -> None:
    """``--quick``, ``--rounds``, ``--duration`` and ``--warmup`` (see ``resolve_rounds``)."""
    p.add_argument("--quick", action="store_true", help="a short smoke run (one round, ~2 s per target)")
    p.add_argument("--rounds", type=int, help="runs per target, interleaved (default 3; --quick 1)")
    p.add_argument("--duration", type=float, help="measured seconds per run (default 10; --quick 1.5)")
    p.add_argument("--warmup", type=float, help="warm-up seconds per run (default 2; --quick 0.5)")


def resolve_rounds(args: argparse.Namespace) -> None:
    """Fill in what ``add_round_options`` left unset, by ``--quick``."""
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration if args.duration is not None else (1.5 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)


def add_before_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--before",
        metavar="PYTHON",
        help="also serve bridgekit from another checkout's interpreter (its .venv/bin/python),"
        " interleaved, and print its ratios beside this one's: before/after in one run",
    )


def add_load_role_options(p: argparse.ArgumentParser) -> None:
    """The hidden options of the same file run as its own load generator."""
    p.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=float, default=30.0, help=argparse.SUPPRESS)


def split_cpus(no_pin: bool) -> tuple[list[int], set[int] | None, set[int] | None]:
    """This process's CPUs, and how a bench splits them: the last for the server, the rest for
    the load generator; (cpus, None, None) when ``no_pin`` or there is only one."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if no_pin or len(cpus) < 2:
        return cpus, None, None
    return cpus, {cpus[-1]}, set(cpus[:-1])


def load_argv(script: Path | str, port: int, result_path: Path, args: argparse.Namespace) -> list[str]:
    """The command line that runs ``script`` as its own load generator against ``port``, with
    the run's ``--concurrency``, ``--warmup`` and ``--duration`` (append the bench's own)."""
    return [
        sys.executable,
        str(script),
        "--load",
        "--port",
        str(port),
        "--result",
        str(result_path),
        "--concurrency",
        str(args.concurrency),
        "--warmup",
        str(args.warmup),
        "--duration",
        str(args.duration),
    ]


def check_rounds_stored(rounds: Sequence[Any], what: str, found: str) -> bool:
    """Print whether bridgekit's rounds (``target`` "bridgekit" or "before") stored every
    acknowledged ``what`` (``found``: how that was seen); returns whether they did."""
    bk = [r for r in rounds if r.target in ("bridgekit", "before")]
    acked = sum(r.result.get("acked", 0) for r in bk)
    missing = sum(r.missing or 0 for r in bk)
    if all(r.stored is not None for r in bk) and missing == 0:
        print(f"storage check: all {acked} {what} were stored by bridgekit ({len(bk)} run(s), {found}): OK")
        return True
    checked = all(r.stored is not None for r in bk)
    print(
        f"storage check: FAILED: {missing} of {acked} {what} missing"
        f"{'' if checked else ' (some runs could not be checked)'}"
    )
    return False


class BenchRun:
    """What every bench's orchestrating object starts with: its options, its temporary folder
    and its CPUs (see ``split_cpus``)."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.cpus, self.server_cpus, self.client_cpus = split_cpus(args.no_pin)

    def log(self, text: str) -> None:
        print(text, flush=True)


def exit_status(valid: bool) -> int:
    """A bench's exit status: 0, or 1 after saying the run is invalid."""
    if not valid:
        print("INVALID RUN: see the lines marked INVALID above")
        return 1
    return 0


def storage_note(rnd: Any, lost: str, middle: str = "") -> tuple[str, bool]:
    """The end of a round's description: what bridgekit stored (``middle`` after it), and
    ``lost`` after how many acknowledged ones are missing; and whether none is."""
    if rnd.stored is None:
        return "", True
    text = f"\n    stored {rnd.stored} messages; flow_events still queued: {rnd.flow_backlog}{middle}"
    if rnd.missing:
        return f"{text}; {rnd.missing} {lost}", False
    return text, True


#: The phone number the SMS benchmarks' manager writes to.
SMS_CUSTOMER = "+12025550143"


async def start_sms_bridge(workdir: Path, twilio_api_base: str) -> tuple[Any, Any]:
    """A started bridgekit (the test harness's ``RunningBridge``) on a SQLite file in
    ``workdir`` with the ``sms`` plugin and one integration ``sms`` sending through
    ``twilio_api_base`` (account ``AC0…0``, token ``bench-token``), and that plugin."""
    from bridgekit_sms.plugin import SmsPlugin

    from bridgekit.config import Config
    from bridgekit.testing.harness import TEST_OUTBOX, start_bridge

    plugin = SmsPlugin()
    conf = {
        "channel": "sms",
        "settings": {
            "twilio_api_base": twilio_api_base,
            "twilio_account_sid": "AC" + "0" * 32,
            "registered_senders": ["+14155550100"],
            "sender_number": "+14155550100",
        },
        "secrets": {"twilio_auth_token": "bench-token"},
    }
    running = await start_bridge(
        database_url=f"sqlite+aiosqlite:///{workdir}/bench.sqlite3",
        data_dir=workdir / "data",
        plugins={"sms": plugin},
        integrations={"sms": conf},
        config=Config(outbox=TEST_OUTBOX),
    )
    return running, plugin


async def start_sms_chat(running: Any) -> int:
    """The operator starts a chat with ``SMS_CUSTOMER`` on ``sms`` (its first text queued)."""
    started = await running.api(
        "POST",
        "/chats",
        json={"integration": "sms", "text": "warm-up", "contact": {"kind": "phone", "value": SMS_CUSTOMER}},
    )
    return int(started["chat_id"])
