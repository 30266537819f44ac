"""``/`` and ``/chats/{id}``: the inbox screen for a signed-in manager (their name, the sidebar's
views with counts, signing out; the chat list, conversation and composer are drawn by
``inbox.js`` from the API). Anyone else is sent to ``/sign-in``, and back to the chat after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.views import manager_context
from bridgekit.inbox.views_sidebar import Sidebar, TeamCount, sidebar
from bridgekit.web.i18n import request_lang, translator
from bridgekit.web.keys import BRIDGE
from bridgekit.web.pages import page
from bridgekit.web.sessions_http import signed_in

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class ViewItem:
    key: str  # the view's key: inbox.js turns it into the list's query and matches counts by it
    label: str
    count: int
    group: str = ""  # a heading shown before this item
    mark: str = ""  # an integration's channel mark
    warn: bool = False  # an assignee over their maximum auto-assignment count (I4)
    sub: bool = False  # indented under the entry before it (a team)


def _teams(prefix: str, teams: list[TeamCount], t: Callable[..., str]) -> list[ViewItem]:
    return [
        ViewItem(f"{prefix}:team:{team.id}", team.name or t("view.no_team"), team.count, sub=True)
        for team in teams
        if team.id is not None
    ]


def _views(counts: Sidebar, bridge: Bridge, t: Callable[..., str]) -> list[ViewItem]:
    """The sidebar's views in the API's order (``GET /api/v1/views``), with their counts; their
    names and headings in the page's language (``shell.js`` draws the same from the catalogue)."""
    items = [
        ViewItem("all", t("view.all"), counts.all, group=t("group.me")),
        ViewItem("mine", t("view.mine"), counts.mine),
        ViewItem("unread", t("view.unread"), counts.unread),
        ViewItem("favourites", t("view.favourites"), counts.favourites),
        ViewItem("sessions", t("view.sessions"), counts.sessions),
        ViewItem("unassigned", t("view.unassigned"), counts.unassigned, group=t("group.waiting")),
        *_teams("unassigned", counts.unassigned_teams, t),
    ]
    if counts.queue:  # I3: hidden when nothing waits in it
        items.append(ViewItem("queue", t("view.queue"), counts.queue))
        items.extend(_teams("queue", counts.queue_teams, t))
    for n, a in enumerate(counts.assignees):
        items.append(
            ViewItem(
                f"assignee:{a.id}",
                a.name,
                a.count,
                group=t("group.assignees") if n == 0 else "",
                warn=a.over_capacity,
            )
        )
    for n, bound in enumerate(bridge.registry.ordered()):  # I5: every integration, in the fixed order
        name = bound.integration.name
        items.append(
            ViewItem(
                f"integration:{name}",
                name,
                counts.integrations.get(bound.integration.id, 0),
                group=t("group.integrations") if n == 0 else "",
                mark=bound.channel.spec.mark or bound.channel.spec.title,
            )
        )
    items.extend(
        ViewItem(f"tag:{tag}", f"#{tag}", n, group=t("group.tags") if i == 0 else "")
        for i, (tag, n) in enumerate(counts.tags)
    )
    return items


async def _screen(request: web.Request, chat_id: int | None) -> web.StreamResponse:
    signed = await signed_in(request)
    if signed is None:
        where = "/sign-in" if chat_id is None else f"/sign-in?next=/chats/{chat_id}"
        raise web.HTTPSeeOther(where, headers={"Cache-Control": "no-store"})
    bridge: Bridge = request.app[BRIDGE]
    async with bridge.db.read() as conn:
        counts = await sidebar(conn, signed.manager)
        settings = await manager_context(conn, signed.manager)
    context = {
        "manager": signed.manager,
        "csrf": signed.csrf,
        "views": _views(counts, bridge, translator(request_lang(request))),
        "chat_id": chat_id or "",
        # The sidebar's "notify me of unassigned chats" switch, as the manager last set it.
        "notify_unassigned": settings.notify_unassigned,
        # Links to copy are made on public_url when it is set, else on the page's own origin.
        "public_url": bridge.config.public_url or "",
    }
    return page(request, "shell.html", context)


@routes.get("/")
async def shell(request: web.Request) -> web.StreamResponse:
    return await _screen(request, None)


@routes.get(r"/chats/{chat_id:[1-9][0-9]{0,9}}")
async def chat_screen(request: web.Request) -> web.StreamResponse:
    """The same screen with one chat open (the chat's manager link); the API says if it exists."""
    return await _screen(request, int(request.match_info["chat_id"]))
