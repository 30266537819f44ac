"""Signing in and out in a browser: ``/sign-in``, ``/sign-out``, ``/set-password/{token}``.

Forms post back to the same origin only (``Sec-Fetch-Site``/``Origin``); signing out also needs
the session's CSRF token. Wrong passwords count against the account and the address
(``[limits] sign_in_failures``, ``sign_in_address_failures``); unknown emails and wrong
passwords get the same answer.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from bridgekit.engine.bridge import Bridge
from bridgekit.inbox.managers import normalise_email
from bridgekit.inbox.sessions import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    PasswordRefused,
    check_credentials,
    check_password,
    end_session,
    password_link_manager,
    start_session,
    use_password_link,
)
from bridgekit.web.body_limits import read_body
from bridgekit.web.client_address import client_address
from bridgekit.web.i18n import text
from bridgekit.web.keys import BRIDGE
from bridgekit.web.pages import message_page, page
from bridgekit.web.rate_limits import RATE_LIMITS
from bridgekit.web.sessions_http import (
    CSRF_FIELD,
    clear_session_cookie,
    csrf_matches,
    safe_next,
    same_origin,
    session_token,
    set_session_cookie,
    signed_in,
)

routes = web.RouteTableDef()

FORM_LIMIT = 4 * MAX_PASSWORD + 1024  # a sign-in or password form, generously


async def _form(request: web.Request) -> dict[str, str]:
    body = await read_body(request, FORM_LIMIT)
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _cross_site(request: web.Request) -> web.Response:
    return message_page(request, 403, text(request, "error.refused"), text(request, "error.cross_site"))


def _see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})


async def _limited(request: web.Request, email: str, spend: bool) -> int | None:
    """Seconds to wait when the account or the address is out of attempts; with ``spend``, a
    failed attempt is counted against both first."""
    limits = request.app[RATE_LIMITS]
    address = client_address(request) or ""
    attempts = (
        (limits.sign_in_failures, ("sign-in", email)),
        (limits.sign_in_address_failures, ("sign-in-address", address)),
    )
    for rate, key in attempts:
        try:
            await (limits.spend if spend else limits.check)(rate, *key)
        except web.HTTPException as exc:
            if exc.status != 429:
                raise
            return int(exc.headers.get("Retry-After", "60"))
    return None


def _sign_in_page(
    request: web.Request,
    *,
    status: int = 200,
    email: str = "",
    error: str = "",
    notice: str = "",
    after: str = "/",
) -> web.Response:
    context = {"email": email, "error": error, "notice": notice, "next": after}
    return page(request, "sign_in.html", context, status=status)


def _too_many(request: web.Request, email: str, retry_after: int) -> web.Response:
    minutes = max(1, (retry_after + 59) // 60)
    response = _sign_in_page(
        request,
        status=429,
        email=email,
        error=text(request, "sign_in.too_many" if minutes > 1 else "sign_in.too_many_one", minutes=minutes),
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@routes.get("/sign-in")
async def sign_in_form(request: web.Request) -> web.StreamResponse:
    after = safe_next(request.query.get("next", ""))
    if await signed_in(request) is not None:
        raise _see_other(after)
    notice = text(request, "sign_in.password_set") if request.query.get("password") == "set" else ""
    return _sign_in_page(request, notice=notice, after=after)


@routes.post("/sign-in")
async def sign_in(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):  # no one signs you in to their account from their page
        return _cross_site(request)
    bridge: Bridge = request.app[BRIDGE]
    form = await _form(request)
    email = normalise_email(form.get("email", ""))
    password = form.get("password", "")
    after = safe_next(form.get("next", ""))
    wait = await _limited(request, email, spend=False)
    if wait is not None:
        return _too_many(request, email, wait)
    manager = await check_credentials(bridge.db, email, password)
    if manager is None:
        wait = await _limited(request, email, spend=True)
        if wait is not None:
            return _too_many(request, email, wait)
        return _sign_in_page(
            request, status=401, email=email, error=text(request, "sign_in.wrong"), after=after
        )
    token = await start_session(bridge.db, manager.id)
    response = _see_other(after)
    set_session_cookie(response, bridge.config, token)
    raise response


@routes.post("/sign-out")
async def sign_out(request: web.Request) -> web.StreamResponse:
    bridge: Bridge = request.app[BRIDGE]
    signed = await signed_in(request)
    if signed is not None:
        form = await _form(request)
        if not same_origin(request) or not csrf_matches(signed, form.get(CSRF_FIELD)):
            return _cross_site(request)
        token = session_token(request)
        if token is not None:
            await end_session(bridge.db, token)
    response = _see_other("/sign-in")
    clear_session_cookie(response, bridge.config)
    raise response


@routes.get("/set-password/{token}")
async def set_password_form(request: web.Request) -> web.StreamResponse:
    manager = await password_link_manager(request.app[BRIDGE].db, request.match_info["token"])
    if manager is None:
        return message_page(request, 404, text(request, "error.link"), text(request, "error.expired"))
    return page(request, "set_password.html", {"name": manager.name, "min_length": MIN_PASSWORD, "error": ""})


@routes.post("/set-password/{token}")
async def set_password(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        return _cross_site(request)
    bridge: Bridge = request.app[BRIDGE]
    token = request.match_info["token"]
    # The link first: a stranger's post costs no password hash.
    manager = await password_link_manager(bridge.db, token)
    if manager is None:
        return message_page(request, 404, text(request, "error.link"), text(request, "error.expired"))
    form = await _form(request)
    password = form.get("password", "")
    error = ""
    try:
        check_password(password)
    except PasswordRefused:
        short = len(password) < MIN_PASSWORD
        key, count = ("password.too_short", MIN_PASSWORD) if short else ("password.too_long", MAX_PASSWORD)
        error = text(request, key, count=count)
    if not error and password != form.get("confirm"):
        error = text(request, "password.differ")
    if error:
        context = {"name": manager.name, "min_length": MIN_PASSWORD, "error": error}
        return page(request, "set_password.html", context, status=400)
    if await use_password_link(bridge.db, token, password) is None:
        return message_page(request, 404, text(request, "error.link"), text(request, "error.expired"))
    raise _see_other("/sign-in?password=set")
