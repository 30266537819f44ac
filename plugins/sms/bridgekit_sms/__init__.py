"""Sms channel for bridgekit.

The plugin object lives in :mod:`bridgekit_sms.plugin`; :mod:`bridgekit_sms.sandbox`
is a local stand-in for Sms that speaks the same wire format, for tests and demos.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
