"""``GET /api/v1/usage``: what the workspace was charged in a month (F8, K7), for managers with
the ``admin`` permission; ``bridgekit usage`` prints the same from the command line."""

from __future__ import annotations

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.charges import monthly_usage
from bridgekit.web.auth import ADMIN, require_permission
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE, current_manager

routes = web.RouteTableDef()


@routes.get("/api/v1/usage")
async def get_usage(request: web.Request) -> web.Response:
    """``?month=YYYY-MM`` (default: the running month) ``&time_zone=Asia/Seoul`` (default UTC)."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    month, zone = request.query.get("month"), request.query.get("time_zone")
    async with bridge.db.read() as conn:
        usage = await monthly_usage(conn, bridge.workspace_id, month, zone)
    return json_response(usage.as_json())
