"""Permission checks for the manager API. Enforced here, in the core, never in a UI (I18)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from bridgekit.inbox.managers import ADMIN, DELETE_CHATS, Manager
from bridgekit.web.jsonio import json_error
from bridgekit.web.keys import current_manager

__all__ = [
    "ADMIN",
    "DELETE_CHATS",
    "admin_only",
    "bearer_token",
    "forbidden",
    "operator_only",
    "require_operator",
    "require_permission",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def forbidden(
    message: str, *, code: str | None = None, details: dict[str, str] | None = None
) -> web.HTTPException:
    return json_error(403, message, code=code, details=details)


def require_operator(manager: Manager) -> None:
    """I4/I18: assignment, state changes, tags and description need the operator seat."""
    if not manager.operator:
        raise forbidden("this needs the operator seat", code="operator_seat")


def require_permission(manager: Manager, permission: str) -> None:
    if permission not in manager.permissions:
        raise forbidden(
            f"this needs the {permission} permission", code="permission", details={"permission": permission}
        )


def operator_only(handler: Handler) -> Handler:
    """``handler`` for managers with the operator seat only (403 otherwise): for plugin routes
    under ``/api/`` whose action reaches outside the inbox (the email plugin's forward)."""

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        require_operator(current_manager(request))
        return await handler(request)

    return checked


def admin_only(handler: Handler) -> Handler:
    """``handler`` for managers with the admin permission only (403 ``permission`` otherwise):
    for plugin routes under ``/api/`` that change the workspace's setup (linking a provider
    account)."""

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        require_permission(current_manager(request), ADMIN)
        return await handler(request)

    return checked
