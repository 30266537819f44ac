"""bridgekit: customers' messengers in one shared support inbox, through plugins.

What a plugin author needs is here: ``hookimpl`` to mark hook implementations, the
:class:`BridgeAPI` a plugin may call, :class:`DemoProvider` and
:class:`SendOnlyDemoProvider` for ``bridgekit demo``,
:func:`redact` for errors a plugin logs itself, and the modules of the contract:
``bridgekit.model`` (what crosses the hooks), ``bridgekit.exceptions``, ``bridgekit.flow``
(bot events) and ``bridgekit.hookspecs`` (every hook, documented in docs/hooks.md).
"""

from __future__ import annotations

import pluggy

from bridgekit import exceptions, flow, model, text_units
from bridgekit.bridge_api import BridgeAPI
from bridgekit.demo_provider import DemoCustomer, DemoProvider, DemoStandIn, SendOnlyDemoProvider
from bridgekit.redaction import redact

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("bridgekit")
"""Decorator marking a plugin's hook implementation: ``@bridgekit.hookimpl``."""

__all__ = [
    "BridgeAPI",
    "DemoCustomer",
    "DemoProvider",
    "DemoStandIn",
    "SendOnlyDemoProvider",
    "__version__",
    "exceptions",
    "flow",
    "hookimpl",
    "model",
    "redact",
    "text_units",
]
