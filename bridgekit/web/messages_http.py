"""Small HTTP helpers for the messages/customers area: JSON errors, ids, bodies, downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bridgekit.engine.bridge import Bridge
from bridgekit.storage import schema as s
from bridgekit.storage.schema import valid_id
from bridgekit.web.downloads import file_response
from bridgekit.web.jsonio import json_error


def int_id(request: web.Request, name: str, what: str) -> int:
    """A path id; anything that cannot be a row id is simply not found."""
    try:
        value = int(request.match_info[name])
    except ValueError:
        raise json_error(404, f"no such {what}") from None
    if not valid_id(value):  # larger than any id column holds: a query would fail, not miss
        raise json_error(404, f"no such {what}")
    return value


async def load_chat(bridge: Bridge, request: web.Request) -> Any:
    """The chat of ``{chat_id}`` or a 404 (ids out of the column's range included)."""
    chat_id = int_id(request, "chat_id", "chat")
    row = await bridge.db.read_first(select(s.chats).where(s.chats.c.id == chat_id))
    if row is None:
        raise json_error(404, "no such chat")
    return row


def query_int(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise json_error(400, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise json_error(400, f"{name} must be between {low} and {high}")
    return value


def download(path: str, filename: str, content_type: str) -> web.FileResponse:
    """Stream a stored file as a download (never rendered inline on our origin: an uploaded
    HTML file must not run as a page of the inbox)."""
    if not Path(path).is_file():
        raise json_error(404, "the file is no longer stored")
    return file_response(Path(path), filename, content_type)
