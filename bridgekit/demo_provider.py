"""The contract of a plugin's stand-in for its platform, driven by ``bridgekit demo``.

A plugin returns instances from ``bridgekit_demo_providers``; ``bridgekit.demo`` runs them.
Kept apart from ``bridgekit.demo`` so that the contract (``hookspecs``) and plugins never
import the server to name it.

Two kinds: a :class:`DemoProvider` stands in for a messenger a customer writes in through;
a :class:`SendOnlyDemoProvider` for a channel bridgekit only sends on (Kakao Alimtalk, brand
messages), for which the demo seeds a customer with a phone number instead.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class DemoStandIn(abc.ABC):
    """What every stand-in does: start, list what bridgekit sent through it, stop.

    ``channel`` names the channel (as declared in ``bridgekit_channels``) it stands in for.
    """

    channel: str

    @abc.abstractmethod
    async def start(self) -> tuple[Mapping[str, Any], Mapping[str, str]]:
        """Start the stand-in on loopback; return the settings and secrets of an integration
        that points the plugin at it."""

    @abc.abstractmethod
    def replies(self) -> list[tuple[str, str]]:
        """(customer, text) of every message bridgekit sent through the stand-in, in order."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop the stand-in."""


class DemoProvider(DemoStandIn):
    """A plugin's stand-in for a messenger that demo customers write in through."""

    @abc.abstractmethod
    async def customer_says(self, hook_url: str, customer: str, text: str) -> int:
        """Deliver ``text`` from the demo customer called ``customer`` to ``hook_url`` as the
        platform would (signed); returns the HTTP status bridgekit answered (200 when a
        channel that does not come in over HTTP, such as mail, was accepted)."""


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    """The customer ``bridgekit demo`` seeds for send-only channels, and how to reach the
    running demo's API as that demo's operator (``Authorization: Bearer <token>``)."""

    customer_id: int
    name: str
    phone: str  # as stored on the customer's phone handle, e.g. "010-1234-5678"
    api_url: str  # the demo's API root, ending in "/api/v1"
    token: str  # the demo operator's API token


class SendOnlyDemoProvider(DemoStandIn):
    """A plugin's stand-in for a channel bridgekit only sends on: no customer writes in, so
    ``bridgekit demo`` seeds a customer with a phone number and tells each such stand-in
    through :meth:`customer_added`; managers then send to that customer from its panel."""

    async def customer_added(self, integration: str, customer: DemoCustomer) -> None:
        """The demo seeded ``customer``, reachable on the integration ``integration`` that
        points at this stand-in. Tell bridgekit what the platform's side would (e.g. that the
        customer follows the channel), through the demo's API as a site's back end would.
        Optional: by default nothing."""
