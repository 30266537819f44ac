"""Inviting managers and their set-password links over the API: what ``bridgekit managers
create --email`` and ``managers password-link`` do, for managers with the ``admin`` permission.

The link is answered once and never stored (only its SHA-256 is): whoever invites passes it on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.managers import clean_name, clean_permissions, create_manager, set_email
from bridgekit.inbox.sessions import LINK_TTL, create_password_link
from bridgekit.inbox.teams import list_managers
from bridgekit.runtime.clock import iso, utcnow
from bridgekit.web.auth import ADMIN, require_permission
from bridgekit.web.common import json_object
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import BRIDGE, current_manager
from bridgekit.web.messages_http import int_id

routes = web.RouteTableDef()


async def _manager_json(bridge: Bridge, manager_id: int) -> dict[str, Any]:
    async with bridge.db.read() as conn:
        for row in await list_managers(conn, bridge.workspace_id):
            if row["id"] == manager_id:
                return row
    raise json_error(404, f"no manager {manager_id}")


async def _link(bridge: Bridge, manager_id: int) -> dict[str, str]:
    expires = utcnow() + LINK_TTL
    token = await create_password_link(bridge.db, manager_id)
    return {
        "password_link": f"{bridge.config.base_url}/set-password/{token}",
        "password_link_expires_at": iso(expires),
    }


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise json_error(400, f"{key} must be true or false")
    return value


@routes.post("/api/v1/managers")
async def invite_manager(request: web.Request) -> web.Response:
    """A new manager who signs in with ``email``; answers them with a one-time set-password link."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    body = await json_object(request)
    email = body.get("email")
    if not isinstance(email, str):
        raise json_error(400, "email is required: the address the new manager signs in with")
    manager_id, _token = await create_manager(  # no API token shown: they sign in instead
        bridge.db,
        bridge.workspace_id,
        clean_name(body.get("name")),
        operator=_flag(body, "operator"),
        permissions=tuple(clean_permissions(body.get("permissions", []))),
        email=email,
    )
    link = await _link(bridge, manager_id)
    return json_response({**await _manager_json(bridge, manager_id), **link}, status=201)


@routes.post("/api/v1/managers/{manager_id}/password-link")
async def new_password_link(request: web.Request) -> web.Response:
    """A new one-time link to set a manager's password; earlier unused links stop working.
    ``email`` in the body first changes the address they sign in with."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    manager_id = int_id(request, "manager_id", "manager")
    body = await json_object(request) if request.body_exists else {}
    await _manager_json(bridge, manager_id)  # 404 before anything changes
    if "email" in body:
        if not isinstance(body["email"], str):
            raise json_error(400, "email must be a string")
        await set_email(bridge.db, manager_id, body["email"])
    link = await _link(bridge, manager_id)
    return json_response({**await _manager_json(bridge, manager_id), **link})
