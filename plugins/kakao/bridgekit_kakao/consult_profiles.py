"""The wire profiles of Kakao consultation talk, by the name an integration's ``profile``
setting gives. Add a reseller here (see :mod:`bridgekit_kakao.consult_wire`)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from bridgekit_kakao.consult_happytalk import HappytalkWire
from bridgekit_kakao.consult_wire import ConsultSettings, ConsultWire

#: Builds a profile for one integration's settings and the plugin's HTTP session.
ProfileFactory = Callable[[ConsultSettings, aiohttp.ClientSession], ConsultWire]

PROFILES: dict[str, ProfileFactory] = {"happytalk_v1": HappytalkWire}


def wire_for(settings: ConsultSettings, session: aiohttp.ClientSession) -> ConsultWire:
    return PROFILES[settings.profile](settings, session)
