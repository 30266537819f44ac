"""The realtime stream of changes per manager, and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
