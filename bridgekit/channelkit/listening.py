"""Listening sockets of a plugin's own (the email plugin's SMTP server) under
``bridgekit serve --workers N``: every worker binds the same port with SO_REUSEPORT and the
kernel spreads the connections over them, as it does for the web port."""

from __future__ import annotations

from bridgekit.config import worker_slot


def shares_port() -> bool:
    """True in a worker of ``serve --workers N``: bind with ``reuse_port=True``."""
    return worker_slot() is not None
