"""Chat state, assignment and queue, bulk actions, teams and managers (I2-I4, I7, I10, I12, I18)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
