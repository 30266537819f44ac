"""The wire profiles of Kakao consultation talk, by the name an integration's ``profile``
setting gives (:data:`bridgekit_kakao.consult_wire.ProfileName`). Add a reseller there and
here (see :mod:`bridgekit_kakao.consult_wire`)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from bridgekit_kakao.consult_happytalk import HappytalkWire
from bridgekit_kakao.consult_wire import ConsultSettings, ConsultWire, ProfileName

#: Builds a profile for one integration's settings and the plugin's HTTP session.
ProfileFactory = Callable[[ConsultSettings, aiohttp.ClientSession], ConsultWire]

PROFILES: dict[ProfileName, ProfileFactory] = {"happytalk_v1": HappytalkWire}


def wire_for(settings: ConsultSettings, session: aiohttp.ClientSession) -> ConsultWire:
    return PROFILES[settings.profile](settings, session)
