"""Typed application keys shared by the web modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bridgekit.engine.bridge import Bridge
    from bridgekit.inbox.managers import Manager

BRIDGE: web.AppKey[Bridge] = web.AppKey("bridge")
MANAGER_KEY: web.RequestKey[Manager] = web.RequestKey("manager")


def current_manager(request: web.Request) -> Manager:
    manager: Manager = request[MANAGER_KEY]
    return manager
