"""The browser interface's plumbing: Jinja2 templates (autoescaped) and the static files, both
shipped inside the package (``bridgekit/web/ui/``), and the headers every page carries.

Server-rendered pages and a few ES modules, no build step: nothing to fetch at run time, no
Node, and a strict Content-Security-Policy (no inline script) holds.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bridgekit.storage.db import is_unavailable
from bridgekit.web.dropped import Handler, client_gone
from bridgekit.web.i18n import CATALOGUE_JSON, LANGS, NAMES, request_lang, text, translator
from bridgekit.web.sessions_http import secure_page

UI = Path(__file__).parent / "ui"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".txt": "text/plain"}

routes = web.RouteTableDef()
log = logging.getLogger("bridgekit.web")
UNAVAILABLE_RETRY_AFTER = 5  # seconds, for a page asked for while the database is away


def setup_templates(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(UI / "templates"),
        autoescape=True,  # every value is escaped; nothing is marked safe
        undefined=jinja2.StrictUndefined,
    )


def page(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """A rendered page with the security headers, in the request's language (``t``, ``lang``,
    the language switcher's links); never cached (it shows who is signed in)."""
    lang = request_lang(request)
    context = {
        "lang": lang,
        "t": translator(lang),
        "catalogue": CATALOGUE_JSON[lang],
        "languages": [(code, NAMES[code]) for code in LANGS],
        "here": request.path_qs,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    secure_page(response)
    return response


def message_page(
    request: web.Request,
    status: int,
    heading: str,
    text: str,
    back: tuple[str, str] = ("/sign-in", "sign_in.button"),
) -> web.Response:
    """A page with one message; ``heading`` and ``text`` are already in the request's language,
    ``back`` is the link under them (its address and the catalogue key of its words)."""
    context = {"heading": heading, "text": text, "back_href": back[0], "back_label": back[1]}
    return page(request, "message.html", context, status=status)


def unavailable_page(handler: Handler) -> Handler:
    """``handler`` (a page, a plugin's page), answering a page that says to try again shortly
    (503, ``Retry-After``) while the database is away, instead of an error."""

    @functools.wraps(handler)
    async def answered(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as exc:
            if client_gone(request) or not is_unavailable(exc):
                raise
            log.warning("%s %s answered 503: the database is unavailable", request.method, request.path)
            heading, why = text(request, "unavailable.heading"), text(request, "unavailable.text")
            response = message_page(request, 503, heading, why, back=(request.path, "unavailable.retry"))
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            return response

    return answered


# Served from a fixed list made at start-up: a name in the URL never becomes a path.
_STATIC = {
    path.name: (
        path.read_bytes(),  # read once: they change only with an upgrade, which restarts
        STATIC_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain",
    )
    for path in sorted((UI / "static").iterdir())
    if path.is_file()
}


@routes.get("/static/{name}")
async def static_file(request: web.Request) -> web.StreamResponse:
    found = _STATIC.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    body, content_type = found
    response = web.Response(body=body, content_type=content_type)
    response.headers["Cache-Control"] = "no-cache"  # revalidated: an upgrade shows at once
    secure_page(response)
    return response
