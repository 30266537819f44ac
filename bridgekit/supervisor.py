"""``bridgekit serve --workers N``: N server processes on one port, kept running.

Each worker is a whole ``bridgekit serve`` (its own event loop, database connections, group
commit and plugins) started with ``BRIDGEKIT_WORKER=<index>/<N>`` in its environment, so that it
binds the port with SO_REUSEPORT (the kernel spreads new connections over the workers) and
says which worker answered (``X-Bridgekit-Worker``). The supervisor itself serves nothing: it
starts worker 1 and waits until it listens (a fresh database gets its workspace and
integrations from one process), then the others; it starts a worker again when one dies, and
on SIGTERM or SIGINT it stops them all (SIGTERM, then SIGKILL after ``STOP_GRACE`` seconds).
A worker that dies within ``QUICK_FAILURE`` seconds of its start three times in a row is a
configuration or environment error: the supervisor stops the others and exits 1.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

from bridgekit.config import WORKER_ENV

log = logging.getLogger("bridgekit.supervisor")

STOP_GRACE = 30.0
QUICK_FAILURE = 5.0
QUICK_FAILURES_ALLOWED = 3
RESTART_DELAY = 1.0
FIRST_READY_TIMEOUT = 120.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: a SIGKILLed supervisor leaves no workers behind (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: stopped by the supervisor's SIGTERM only
        pass


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = field(default=0)


class Supervisor:
    def __init__(self, command: Sequence[str], workers: int, host: str, port: int) -> None:
        self.command = list(command)
        self.workers = [_Worker(i) for i in range(1, workers + 1)]
        self.host, self.port = host, port
        self.stopping = False
        self.exit_code = 0

    def _spawn(self, worker: _Worker) -> None:
        env = {**os.environ, WORKER_ENV: f"{worker.index}/{len(self.workers)}"}
        worker.proc = subprocess.Popen(self.command, env=env, preexec_fn=_die_with_parent)
        worker.started_at = time.monotonic()
        log.info("worker %s started (pid %s)", worker.index, worker.proc.pid)

    def _stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _listening(self) -> bool:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "::1" if self.host == "::" else self.host
        try:
            with socket.create_connection((host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop_signal)
        try:
            first, *others = self.workers
            self._spawn(first)
            deadline = time.monotonic() + FIRST_READY_TIMEOUT
            while not self.stopping and not self._listening():
                assert first.proc is not None
                if first.proc.poll() is not None or time.monotonic() > deadline:
                    log.error("worker 1 did not start listening: stopping")
                    return 1
                time.sleep(0.1)
            for worker in others:
                if not self.stopping:
                    self._spawn(worker)
            while not self.stopping:
                self._restart_dead()
                time.sleep(0.2)
            return self.exit_code
        finally:
            self._stop_all()

    def _restart_dead(self) -> None:
        for worker in self.workers:
            if worker.proc is None or worker.proc.poll() is None:
                continue
            lived = time.monotonic() - worker.started_at
            worker.quick_failures = worker.quick_failures + 1 if lived < QUICK_FAILURE else 0
            log.warning(
                "worker %s (pid %s) exited with %s after %.1f s",
                worker.index,
                worker.proc.pid,
                worker.proc.returncode,
                lived,
            )
            if worker.quick_failures >= QUICK_FAILURES_ALLOWED:
                log.error("worker %s keeps failing at start: stopping every worker", worker.index)
                self.stopping, self.exit_code = True, 1
                return
            time.sleep(RESTART_DELAY)
            if self.stopping:  # told to stop meanwhile
                return
            self._spawn(worker)

    def _stop_all(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %s did not stop in %.0f s: killed", proc.pid, STOP_GRACE)
                proc.kill()
                proc.wait()


def worker_command(argv: Sequence[str]) -> list[str]:
    """The command line of one worker: this program with ``argv`` (without ``--workers``)."""
    return [sys.executable, "-m", "bridgekit.cli", *argv]
