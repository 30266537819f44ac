"""Helpers shared by the benchmarks (run as scripts: ``python bench/<name>.py``)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Awaitable, Callable
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
