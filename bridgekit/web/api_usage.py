"""``GET /api/v1/usage``: what the workspace was charged in a month (F8, K7), and
``GET /api/v1/usage/charges`` each charge of it, for managers with the ``admin`` permission;
``bridgekit usage`` prints the first from the command line."""

from __future__ import annotations

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.charges import month_charges, monthly_usage
from bridgekit.storage.schema import MAX_ID
from bridgekit.web.auth import ADMIN, require_permission
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE, current_manager
from bridgekit.web.messages_http import query_int

routes = web.RouteTableDef()


@routes.get("/api/v1/usage")
async def get_usage(request: web.Request) -> web.Response:
    """``?month=YYYY-MM`` (default: the running month) ``&time_zone=Asia/Seoul`` (default UTC)."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    month, zone = month_and_zone(request)
    async with bridge.db.read() as conn:
        usage = await monthly_usage(conn, bridge.workspace_id, month, zone)
    return json_response(usage.as_json())


#: Charges a page answers unless ``limit`` says otherwise, and at most (as messages are paged).
CHARGES_PAGE = 200
MAX_CHARGES_PAGE = 1000


@routes.get("/api/v1/usage/charges")
async def get_charges(request: web.Request) -> web.Response:
    """The month's charges newest first; page back with ``before=<the page's last id>``."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    before = query_int(request, "before", None, 1, MAX_ID)
    limit = query_int(request, "limit", CHARGES_PAGE, 1, MAX_CHARGES_PAGE) or CHARGES_PAGE
    month, zone = month_and_zone(request)
    async with bridge.db.read() as conn:
        page = await month_charges(conn, bridge.workspace_id, month, zone, before=before, limit=limit)
    return json_response(page.as_json())


def month_and_zone(request: web.Request) -> tuple[str | None, str | None]:
    """``month`` and ``time_zone`` of the query; an empty one is as if left out."""
    return request.query.get("month") or None, request.query.get("time_zone") or None
