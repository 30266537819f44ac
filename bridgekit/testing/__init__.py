"""Testing support for bridgekit and for plugin authors.

Installed with bridgekit as a pytest plugin (entry point ``pytest11``), giving every test
suite the ``make_bridge`` fixture: a real bridgekit — real HTTP server on 127.0.0.1, real
database (a SQLite file, and PostgreSQL when ``BRIDGEKIT_TEST_POSTGRES`` names a server) —
with the plugins and integrations a test asks for. ``KeptProgress`` stands in for the
outbox row in a plugin's own delivery tests.
"""

from bridgekit.testing.harness import RunningBridge, start_bridge
from bridgekit.testing.progress import KeptProgress

__all__ = ["KeptProgress", "RunningBridge", "start_bridge"]
