"""``/admin/…``: the admin pages for managers with the ``admin`` permission: managers (invite,
seat, permissions, set-password links), teams, macros, tags and a month's usage.

The server renders what is (read with the same core functions the API answers from);
``admin.js`` sends every change through ``/api/v1`` (which checks the permission again) and
redraws the page's list from the server. Anyone else signed in gets a page saying why not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.charges import UsageRefused, month_charges, monthly_usage
from bridgekit.inbox.macros import list_macros
from bridgekit.inbox.managers import ADMIN, PERMISSIONS
from bridgekit.inbox.sessions import LINK_TTL, SignedIn
from bridgekit.inbox.tags import list_tags
from bridgekit.inbox.teams import list_managers, list_teams
from bridgekit.runtime.clock import iso
from bridgekit.storage.schema import MAX_ID
from bridgekit.web.api_usage import month_and_zone
from bridgekit.web.i18n import text
from bridgekit.web.keys import BRIDGE
from bridgekit.web.pages import message_page, page
from bridgekit.web.sessions_http import signed_in

routes = web.RouteTableDef()

# The pages, in the order of the admin bar: (path part, catalogue key of its name).
SECTIONS = (
    ("managers", "admin.managers"),
    ("teams", "admin.teams"),
    ("macros", "admin.macros"),
    ("tags", "admin.tags"),
    ("usage", "admin.usage"),
)
# Pages over a plugin's admin API, shown when the plugin serves it: (path part, key, the API).
# The API checks the rest (syncing Alimtalk templates with NHN needs an operator seat).
PLUGIN_SECTIONS = (
    ("kakao", "admin.kakao", "/api/v1/kakao/links"),
    ("kakao_templates", "admin.kakao_templates", "/api/v1/kakao_alimtalk/templates"),
)


def _sections(request: web.Request) -> tuple[tuple[str, str], ...]:
    served = {resource.canonical for resource in request.app.router.resources()}
    return SECTIONS + tuple((path, key) for path, key, api in PLUGIN_SECTIONS if api in served)


@dataclass(frozen=True, slots=True)
class TeamOf:
    id: int
    name: str


async def _admin(request: web.Request) -> SignedIn | web.Response:
    """The signed-in admin; else the page refusing them (403), or a redirect to sign in."""
    signed = await signed_in(request)
    if signed is None:
        where = f"/sign-in?next={request.path}"  # back here after signing in
        raise web.HTTPSeeOther(where, headers={"Cache-Control": "no-store"})
    if ADMIN not in signed.manager.permissions:
        heading = text(request, "admin.refused")
        reason = text(request, "admin.refused_reason", permission=ADMIN)
        return message_page(request, 403, heading, reason, back=("/", "admin.back"))
    return signed


def _page(
    request: web.Request, signed: SignedIn, section: str, data: dict[str, Any], status: int = 200
) -> web.Response:
    context = {
        "manager": signed.manager,
        "csrf": signed.csrf,
        "section": section,
        "sections": _sections(request),
        **data,
    }
    return page(request, f"admin/{section}.html", context, status=status)


@routes.get("/admin")
async def admin_home(request: web.Request) -> web.StreamResponse:
    gate = await _admin(request)
    if isinstance(gate, web.Response):
        return gate
    raise web.HTTPSeeOther("/admin/managers", headers={"Cache-Control": "no-store"})


# What an admin page shows: read from the workspace for the page's template.
PageData = Callable[[web.Request, Bridge], Awaitable[dict[str, Any]]]


def admin_page(section: str) -> Callable[[PageData], PageData]:
    """Serve ``/admin/<section>`` to admins (anyone else: ``_admin``'s answer): the template
    ``admin/<section>.html`` with what the decorated function reads."""

    def register(read: PageData) -> PageData:
        async def serve(request: web.Request) -> web.StreamResponse:
            signed = await _admin(request)
            if isinstance(signed, web.Response):
                return signed
            return _page(request, signed, section, await read(request, request.app[BRIDGE]))

        routes.get(f"/admin/{section}")(serve)
        return read

    return register


@admin_page("managers")
async def managers_page(_request: web.Request, bridge: Bridge) -> dict[str, Any]:
    async with bridge.db.read() as conn:
        managers = await list_managers(conn, bridge.workspace_id)
        teams = await list_teams(conn, bridge.workspace_id)
    teams_of: dict[int, list[TeamOf]] = {}
    for team in teams:
        for member in team["member_ids"]:
            teams_of.setdefault(member, []).append(TeamOf(team["id"], team["name"]))
    return {
        "managers": managers,
        "teams_of": teams_of,
        "permissions": PERMISSIONS,
        "link_hours": int(LINK_TTL.total_seconds() // 3600),
    }


@admin_page("teams")
async def teams_page(_request: web.Request, bridge: Bridge) -> dict[str, Any]:
    async with bridge.db.read() as conn:
        teams = await list_teams(conn, bridge.workspace_id)
        managers = await list_managers(conn, bridge.workspace_id)
    return {"teams": teams, "managers": managers}


@admin_page("macros")
async def macros_page(_request: web.Request, bridge: Bridge) -> dict[str, Any]:
    async with bridge.db.read() as conn:
        return {"macros": await list_macros(conn, bridge.workspace_id)}


@admin_page("tags")
async def tags_page(_request: web.Request, bridge: Bridge) -> dict[str, Any]:
    async with bridge.db.read() as conn:
        return {"tags": await list_tags(conn, bridge.workspace_id)}


# The charges one usage page lists; "Older" shows the ones before.
USAGE_PAGE_CHARGES = 50
# Offered in the time zone field; any other IANA name is taken too.
USAGE_ZONES = (
    "UTC",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Asia/Taipei",
    "Asia/Bangkok",
    "Europe/London",
    "America/New_York",
)


@routes.get("/admin/usage")
async def usage_page(request: web.Request) -> web.StreamResponse:
    """A month's charges (``monthly_usage``, as ``GET /api/v1/usage`` answers them), chosen with
    a plain GET form: a month or zone that is not one is said on the page, answered 400."""
    signed = await _admin(request)
    if isinstance(signed, web.Response):
        return signed
    bridge: Bridge = request.app[BRIDGE]
    month, zone = month_and_zone(request)
    data: dict[str, Any] = {
        "zones": USAGE_ZONES,
        "month": month or "",
        "time_zone": zone or "UTC",
        "usage": None,
        "error": None,
        "charges": [],
        "older": None,
    }
    raw = request.query.get("before", "")
    # Only the page's own "Older" link sets it: anything else shows the newest charges.
    before = int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID else None
    try:
        async with bridge.db.read() as conn:
            usage = await monthly_usage(conn, bridge.workspace_id, month, zone)
            charges = await month_charges(
                conn, bridge.workspace_id, month, zone, before=before, limit=USAGE_PAGE_CHARGES
            )
    except UsageRefused as exc:
        data["error"] = text(request, f"error.{exc.code}", **exc.details)
        return _page(request, signed, "usage", data, status=400)
    local = ZoneInfo(usage.time_zone)
    entries = charges.entries
    data.update(
        usage=usage,
        month=usage.month,
        # Each charge with its time for <time datetime> and as the month's zone shows it.
        charges=[
            (entry, iso(entry.at), entry.at.replace(tzinfo=UTC).astimezone(local).strftime("%Y-%m-%d %H:%M"))
            for entry in entries
        ],
        # The next page's address, while this one is full.
        older=urlencode({"month": usage.month, "time_zone": usage.time_zone, "before": entries[-1].id})
        if len(entries) == USAGE_PAGE_CHARGES
        else None,
    )
    return _page(request, signed, "usage", data)


def plugin_page(section: str) -> PageData:
    """A page over a plugin's admin API, drawn by its script (``kakao_links.js``,
    ``kakao_templates.js``) from that API: the core does not read a plugin's store. 404 when
    the plugin does not serve it (no Kakao plugin, or no Alimtalk integration)."""

    async def read(request: web.Request, _bridge: Bridge) -> dict[str, Any]:
        if section not in {path for path, _key in _sections(request)}:
            raise web.HTTPNotFound()
        return {}

    return read


for _section, _key, _api in PLUGIN_SECTIONS:
    admin_page(_section)(plugin_page(_section))
