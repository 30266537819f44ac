"""bridgekit-line: the LINE Messaging API channel for bridgekit.

The plugin object is :data:`bridgekit_line.plugin.plugin` (entry point ``line`` in the
``bridgekit`` group); :mod:`bridgekit_line.sandbox` is a LINE platform stand-in for tests
and demos.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
