"""Helpers for tests that run bridgekit as a real process."""

from __future__ import annotations

import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env() -> dict[str, str]:
    """The environment for a `python -m bridgekit.cli` child that can import tests.support."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "BRIDGEKIT_LOG_LEVEL": "WARNING"}
