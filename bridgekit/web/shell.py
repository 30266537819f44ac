"""``/``: the inbox shell for a signed-in manager (their name, the sidebar's views with counts,
signing out); anyone else is sent to ``/sign-in``. The inbox screen is built on this page."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.views_sidebar import Sidebar, sidebar
from bridgekit.web.keys import BRIDGE
from bridgekit.web.pages import page
from bridgekit.web.sessions_http import signed_in

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class ViewItem:
    key: str  # what shell.js matches the API's counts by
    label: str
    count: int


def _views(counts: Sidebar, bridge: Bridge) -> list[ViewItem]:
    """The sidebar's views in the API's order (``GET /api/v1/views``), with their counts."""
    items = [
        ViewItem("all", "All open", counts.all),
        ViewItem("mine", "Mine", counts.mine),
        ViewItem("unread", "Unread", counts.unread),
        ViewItem("favourites", "Favourites", counts.favourites),
        ViewItem("sessions", "Sessions", counts.sessions),
        ViewItem("unassigned", "Unassigned", counts.unassigned),
    ]
    if counts.queue:  # I3: hidden when nothing waits in it
        items.append(ViewItem("queue", "Queue", counts.queue))
    for bound in bridge.registry.ordered():  # I5: every integration, in the fixed order
        name = bound.integration.name
        items.append(
            ViewItem(
                f"integration:{name}",
                bound.channel.spec.title,
                counts.integrations.get(bound.integration.id, 0),
            )
        )
    items.extend(ViewItem(f"tag:{tag}", f"#{tag}", n) for tag, n in counts.tags)
    return items


@routes.get("/")
async def shell(request: web.Request) -> web.StreamResponse:
    signed = await signed_in(request)
    if signed is None:
        raise web.HTTPSeeOther("/sign-in", headers={"Cache-Control": "no-store"})
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        counts = await sidebar(conn, signed.manager)
    views = _views(counts, bridge)
    return page(request, "shell.html", {"manager": signed.manager, "csrf": signed.csrf, "views": views})
