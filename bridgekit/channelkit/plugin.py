"""The part of a channel plugin that is the same in every one over a provider's HTTP API:
its channels declared, its integrations' settings checked at start-up, and its provider
session closed when the server shuts down.

::

    class LinePlugin(HttpChannelPlugin):
        channel_specs = (CHANNEL,)
        settings_class = LineSettings

        def __init__(self) -> None:
            super().__init__(timeout=30)  # ``self._http``, the provider session

pluggy registers the hook implementations a plugin inherits, so a subclass writes only its
provider's part (verify, parse, deliver).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import bridgekit
from bridgekit.channelkit.http import ProviderSession
from bridgekit.channelkit.settings import ChannelSettings
from bridgekit.model import ChannelSpec, Integration


class HttpChannelPlugin:
    """A plugin serving ``channel_specs`` through one provider HTTP session."""

    #: The channels the plugin declares (``bridgekit_channels``).
    channel_specs: ClassVar[tuple[ChannelSpec, ...]] = ()
    #: What an integration's settings and secrets must be (``bridgekit_check_integration``).
    settings_class: ClassVar[type[ChannelSettings] | None] = None

    def __init__(self, *, timeout: float) -> None:
        #: The provider session: ``.get()`` for the ``aiohttp.ClientSession``, made lazily.
        self._http = ProviderSession(timeout=timeout)

    async def aclose(self) -> None:
        """Close the HTTP session (also done by ``bridgekit_shutdown``; usable without a
        running bridge, in tests)."""
        await self._http.aclose()

    @bridgekit.hookimpl
    def bridgekit_channels(self) -> Iterable[ChannelSpec]:
        return list(self.channel_specs)

    @bridgekit.hookimpl
    def bridgekit_check_integration(self, integration: Integration) -> None:
        """Refuse unknown keys, wrong types and missing secrets before the server starts."""
        if self.settings_class is not None:
            self.settings_class.from_integration(integration)

    @bridgekit.hookimpl
    async def bridgekit_shutdown(self) -> None:
        await self.aclose()
