"""The contract of a plugin's stand-in for its platform, driven by ``bridgekit demo``.

A plugin returns instances from ``bridgekit_demo_providers``; ``bridgekit.demo`` runs them.
Kept apart from ``bridgekit.demo`` so that the contract (``hookspecs``) and plugins never
import the server to name it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any


class DemoProvider(abc.ABC):
    """A plugin's stand-in for its platform, driven by ``bridgekit demo``.

    ``channel`` names the channel (as declared in ``bridgekit_channels``) it stands in for.
    """

    channel: str

    @abc.abstractmethod
    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        """Start the stand-in on loopback; return the settings and secrets of an integration
        that points the plugin at it."""

    @abc.abstractmethod
    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        """Deliver ``text`` from the demo customer called ``customer`` to ``hook_url`` as the
        platform would (signed); returns the HTTP status bridgekit answered (200 when a
        channel that does not come in over HTTP, such as mail, was accepted)."""

    @abc.abstractmethod
    def replies(self) -> list[tuple[str, str]]:
        """(customer, text) of every message bridgekit sent through the stand-in, in order."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop the stand-in."""
