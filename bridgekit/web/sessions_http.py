"""The browser's side of sessions: the cookie, the same-origin and CSRF checks, and the headers
of every page. Shared by the sign-in pages (``signin.py``) and the API's authentication
(``api.auth_middleware``), so the API takes the cookie under exactly the pages' rules.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit

from aiohttp import web

from bridgekit.config import Config
from bridgekit.inbox.managers import Manager, authenticate
from bridgekit.inbox.sessions import SESSION_MAX, SignedIn, session
from bridgekit.web.auth import bearer_token
from bridgekit.web.keys import BRIDGE

# Methods that change nothing; every other one needs the CSRF token with a session cookie.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

# No inline script or style anywhere: what a customer wrote can never run in a manager's page.
# Frames only from our own origin: the email original view (a sandboxed page with a CSP of
# its own, served under /api/ to signed-in managers), never another site's page.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
}


def is_https(config: Config) -> bool:
    return config.base_url.lower().startswith("https://")


def cookie_name(config: Config) -> str:
    # ``__Host-``: the browser takes it only over HTTPS, for this host, path /, no Domain, so a
    # sibling subdomain cannot plant or shadow it. Over plain HTTP browsers refuse the prefix.
    return "__Host-bridgekit_session" if is_https(config) else "bridgekit_session"


def set_session_cookie(response: web.StreamResponse, config: Config, token: str) -> None:
    response.set_cookie(
        cookie_name(config),
        token,
        max_age=int(SESSION_MAX.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=is_https(config),
    )


def clear_session_cookie(response: web.StreamResponse, config: Config) -> None:
    response.del_cookie(cookie_name(config), path="/", secure=is_https(config), samesite="Lax")


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(cookie_name(request.app[BRIDGE].config)) or None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: web.Request) -> bool:
    """Whether a state-changing request comes from one of our own pages. Browsers send
    ``Sec-Fetch-Site``; older ones ``Origin``, compared with the configured public URL and the
    address the request was made to. A request with neither is refused."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return False
    ours = {_origin(request.app[BRIDGE].config.base_url), f"{request.scheme}://{request.host}".lower()}
    return origin.lower() in ours


def csrf_matches(signed: SignedIn, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), signed.csrf.encode())


async def signed_in(request: web.Request) -> SignedIn | None:
    """The session of the request's cookie, or None."""
    token = session_token(request)
    return None if token is None else await session(request.app[BRIDGE].db, token)


async def request_manager(request: web.Request) -> Manager | None:
    """Who is calling: the bearer token's manager, else the session cookie's (no CSRF check:
    for re-checking a request already admitted, like an open event stream)."""
    token = bearer_token(request)
    if token is not None:
        return await authenticate(request.app[BRIDGE].db, token)
    signed = await signed_in(request)
    return None if signed is None else signed.manager


def secure_page(response: web.StreamResponse) -> web.StreamResponse:
    """Every page and asset of the browser interface carries these headers."""
    response.headers.update(PAGE_HEADERS)
    return response


# The interface's own pages: where a sign-in or the language switcher may lead back to, never
# another site. The usage page keeps its month and zone (a query of plain characters).
PAGE_PATH = re.compile(
    r"/(chats/[1-9][0-9]{0,9}|admin(/(managers|teams|macros|tags|kakao|kakao_templates"
    r"|usage(\?[A-Za-z0-9_%+=&.-]{0,200})?))?)?"
)


def safe_next(value: str) -> str:
    """``value`` when it is one of the interface's pages to return to after signing in, else ``/``."""
    return value if PAGE_PATH.fullmatch(value) else "/"
