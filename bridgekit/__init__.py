"""bridgekit: customers' messengers in one shared support inbox, through plugins."""

from __future__ import annotations

import pluggy

from bridgekit.core.redact import redact

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("bridgekit")
"""Decorator marking a plugin's hook implementation: ``@bridgekit.hookimpl``."""

__all__ = ["__version__", "hookimpl", "redact"]
