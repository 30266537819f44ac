"""Who holds an outbox lease, and whether that holder is provably dead.

A lease records its owner as ``<host> <boot id> <pid> <instance>``. After a crash the
restarted server reclaims the leases of its dead predecessor at once rather than waiting
``lease_seconds``. Several processes may share a PostgreSQL database, so a lease is only
reclaimed when its owner cannot be running: same host name and either the host rebooted
since (another boot id), or the owner's pid is ours now (a container restarts as pid 1), or
no process has that pid. A live pid (perhaps reused by an unrelated process) keeps the
lease until it expires. Server processes sharing a database need distinct host names.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip() or "-"
    except OSError:  # not Linux: pids are still checked
        return "-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    host: str
    boot: str
    pid: int
    instance: str

    @classmethod
    def this_process(cls) -> LeaseOwner:
        """A new owner identity for this process (one per outbox worker)."""
        return cls(socket.gethostname().replace(" ", "_"), _boot_id(), os.getpid(), uuid.uuid4().hex)

    @classmethod
    def parse(cls, text: str | None) -> LeaseOwner | None:
        parts = (text or "").rsplit(" ", 3)
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])

    def __str__(self) -> str:
        return f"{self.host} {self.boot} {self.pid} {self.instance}"

    def is_dead_predecessor_of(self, me: LeaseOwner) -> bool:
        """True when this owner ran on ``me``'s host and cannot be running any more."""
        if self.host != me.host or self.instance == me.instance:
            return False
        return self.boot != me.boot or self.pid == me.pid or not _pid_alive(self.pid)
