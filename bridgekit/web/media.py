"""``GET /media/{attachment_id}/{expires}/{signature}/{filename}``: outbound media for providers.

Public (providers download without our credentials), so everything wrong — a forged, expired
or malformed URL, an attachment or file that is gone — is the same bare 404: no oracle.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.messages import stored_attachment
from bridgekit.storage.media_urls import ROUTE_PREFIX
from bridgekit.storage.schema import valid_id
from bridgekit.web.downloads import file_response
from bridgekit.web.keys import BRIDGE

routes = web.RouteTableDef()


def _stored_under(path: Path, root: Path) -> bool:
    # Belt and braces: a row can only point into the attachment store.
    return path.resolve().is_relative_to(root.resolve()) and path.is_file()


@routes.get(ROUTE_PREFIX + "{attachment_id:[0-9]{1,10}}/{expires:[0-9]{1,12}}/{signature}/{filename}")
async def media(request: web.Request) -> web.StreamResponse:
    bridge: Bridge = request.app[BRIDGE]
    attachment_id = int(request.match_info["attachment_id"])
    expires = int(request.match_info["expires"])
    if not valid_id(attachment_id) or not bridge.media_urls.check(
        attachment_id, expires, request.match_info["signature"]
    ):
        raise web.HTTPNotFound()
    async with bridge.db.read() as conn:
        row = await stored_attachment(conn, attachment_id)
    if row is None:
        raise web.HTTPNotFound()
    path = Path(row.storage_path)
    if not await asyncio.to_thread(_stored_under, path, bridge.files.root / "attachments"):
        raise web.HTTPNotFound()
    # Inline for images and the like: providers and customers' apps show them; any active
    # type is served as a download of application/octet-stream.
    return file_response(path, row.filename, row.content_type, inline=True)
