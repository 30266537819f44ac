"""The browser interface in English, Korean and Japanese: one message catalogue per language
(``bridgekit/web/ui/i18n/{en,ko,ja}.json``, the same keys in each), the language of a request
(the ``lang`` cookie set by the page's switcher, else the best match of ``Accept-Language``,
else English), and ``GET /lang/{lang}``, the switcher's link.

Templates call ``t("key")``; the browser code reads the same catalogue from the page's
``<html data-i18n="…">`` attribute (no inline script) and formats dates with ``Intl``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bridgekit.web.sessions_http import safe_next

LANGS = ("en", "ko", "ja")
DEFAULT = "en"
COOKIE = "lang"
NAMES = {"en": "English", "ko": "한국어", "ja": "日本語"}  # each in its own language
CATALOGUE_DIR = Path(__file__).parent / "ui" / "i18n"

routes = web.RouteTableDef()


def _load(lang: str) -> dict[str, str]:
    data = json.loads((CATALOGUE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{lang}.json: a catalogue is an object of strings")
    return {str(k): v for k, v in data.items()}


CATALOGUES: dict[str, dict[str, str]] = {lang: _load(lang) for lang in LANGS}
CATALOGUE_JSON = {lang: json.dumps(CATALOGUES[lang], ensure_ascii=False, sort_keys=True) for lang in LANGS}


def accepted(header: str) -> str | None:
    """The best of ``LANGS`` in an ``Accept-Language`` header (``ko-KR,ko;q=0.9,en;q=0.8``)."""
    best: tuple[float, int, str] | None = None
    for n, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        found = re.search(r"q=([^;\s]*)", params)
        if found:
            try:
                quality = float(found.group(1))
            except ValueError:
                continue
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGS and quality > 0 and (best is None or (quality, -n) > best[:2]):
            best = (quality, -n, lang)
    return best[2] if best else None


def request_lang(request: web.Request) -> str:
    cookie = request.cookies.get(COOKIE, "")
    if cookie in LANGS:
        return cookie
    return accepted(request.headers.get("Accept-Language", "")) or DEFAULT


def translator(lang: str) -> Callable[..., str]:
    catalogue = CATALOGUES[lang]

    def t(key: str, **values: object) -> str:
        text = catalogue.get(key) or CATALOGUES[DEFAULT].get(key) or key
        return text.format(**values) if values else text

    return t


def text(request: web.Request, key: str, **values: object) -> str:
    """One message in the request's language (for the pages' errors and notices)."""
    return translator(request_lang(request))(key, **values)


def _back(path: str) -> str:
    """Where the switcher leads back to: one of the interface's pages, or the sign-in page
    with its own way back."""
    signing_in, _, after = path.partition("?next=")
    if signing_in == "/sign-in":
        return path if not after or safe_next(after) == after else "/sign-in"
    return safe_next(path)


@routes.get("/lang/{lang}")
async def switch(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGS:
        raise web.HTTPNotFound()
    back = request.query.get("next", "/")
    response = web.HTTPSeeOther(_back(back), headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, path="/", samesite="Lax", httponly=True)
    raise response
