"""Tags across chats (I6): every manager lists them; managers with the ``admin`` permission
rename or remove one tag on every chat at once."""

from __future__ import annotations

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.chat_batch import Outcome
from bridgekit.inbox.tags import delete_tag, list_tags, rename_tag
from bridgekit.web.auth import ADMIN, require_permission
from bridgekit.web.common import json_object
from bridgekit.web.jsonio import json_response
from bridgekit.web.keys import BRIDGE, current_manager

routes = web.RouteTableDef()

# A tag is any text (Korean, spaces, even "/"): the path's last part, percent-encoded.
TAG_PATH = "/api/v1/tags/{tag:.+}"


@routes.get("/api/v1/tags")
async def get_tags(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        return json_response([tag.as_json() for tag in await list_tags(conn, bridge.workspace_id)])


def _answer(bridge: Bridge, outcome: Outcome, tag: str | None) -> web.Response:
    bridge.events.publish_many(outcome.events)
    return json_response({"tag": tag, "chats": len(outcome.changed)})


@routes.put(TAG_PATH)
async def put_tag(request: web.Request) -> web.Response:
    """Rename a tag on every chat that has it (``{"name": "new name"}``)."""
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    body = await json_object(request)
    async with bridge.db.write() as conn:
        outcome = await rename_tag(conn, bridge.workspace_id, request.match_info["tag"], body.get("name"))
        outcome = await outcome.sequenced(conn)
    return _answer(bridge, outcome, str(body["name"]).strip())


@routes.delete(TAG_PATH)
async def remove_tag_everywhere(request: web.Request) -> web.Response:
    bridge: Bridge = request.app[BRIDGE]
    require_permission(current_manager(request), ADMIN)
    async with bridge.db.write() as conn:
        outcome = await delete_tag(conn, bridge.workspace_id, request.match_info["tag"])
        outcome = await outcome.sequenced(conn)
    return _answer(bridge, outcome, None)
