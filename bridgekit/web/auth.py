"""Permission checks for the manager API. Enforced here, in the core, never in a UI (I18)."""

from __future__ import annotations

from aiohttp import web

from bridgekit.core.managers import Manager
from bridgekit.web.jsonio import json_error

# Permission names a manager can hold (``bridgekit managers create --permission NAME``).
DELETE_CHATS = "delete_chats"  # I12
ADMIN = "admin"  # teams, managers, macros


def forbidden(message: str) -> web.HTTPException:
    return json_error(403, message)


def require_operator(manager: Manager) -> None:
    """I4/I18: assignment, state changes, tags and description need the operator seat."""
    if not manager.operator:
        raise forbidden("this needs the operator seat")


def require_permission(manager: Manager, permission: str) -> None:
    if permission not in manager.permissions:
        raise forbidden(f"this needs the {permission} permission")
