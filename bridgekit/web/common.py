"""Helpers shared by the manager API modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from sqlalchemy import select

from bridgekit.engine.bridge import Bridge
from bridgekit.payloads import parse_json
from bridgekit.runtime.clock import iso
from bridgekit.storage import schema as s
from bridgekit.storage.schema import valid_id
from bridgekit.web.bodies import Schema, route_schema, unknown_key
from bridgekit.web.jsonio import json_error


async def chat_or_404(bridge: Bridge, chat_id: str) -> Any:
    try:
        cid = int(chat_id)
    except ValueError:
        raise json_error(404, "no such chat") from None
    if not valid_id(cid):  # PostgreSQL ids are 32-bit: a larger one would be a 500
        raise json_error(404, "no such chat")
    async with bridge.db.read() as conn:
        row = (await conn.execute(select(s.chats).where(s.chats.c.id == cid))).first()
    if row is None:
        raise json_error(404, "no such chat")
    return row


async def json_object(request: web.Request, schema: Schema | None = None) -> dict[str, Any]:
    """The request's JSON object body; keys ``schema`` does not allow are refused (400).
    ``schema`` defaults to the route's request body in the OpenAPI document (``bodies``).

    A ``schema`` given here (a plugin's route, a customer link's) is also checked whole —
    required fields, types, patterns, lengths — so the handler may read what it declares;
    a body that does not match is refused with 400 and the first mismatch in words."""
    try:
        body = parse_json(await request.read())
    except ValueError as exc:
        raise json_error(400, f"the body must be JSON: {exc}") from None
    if not isinstance(body, dict):
        raise json_error(400, "the body must be a JSON object")
    refuse_unknown_keys(request, body, schema)
    if schema is not None:
        error = best_match(_validator(schema).iter_errors(body))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path)
            raise json_error(400, f"{where}: {error.message}" if where else error.message)
    return body


_validators: dict[int, tuple[Schema, Draft202012Validator]] = {}


def _validator(schema: Schema) -> Draft202012Validator:
    """One compiled validator per schema object (the schemas are module constants)."""
    found = _validators.get(id(schema))
    if found is None or found[0] is not schema:
        found = _validators[id(schema)] = (schema, Draft202012Validator(schema))
    return found[1]


def path_id(request: web.Request, key: str) -> int | None:
    """The row id in the path's ``{key}``, or None when it is not one (not ASCII digits, or
    beyond what an id column holds: ``int("²")`` and a 30-digit id would otherwise reach the
    database)."""
    raw = request.match_info[key]
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if valid_id(value) else None


def refuse_unknown_keys(request: web.Request, body: Any, schema: Schema | None = None) -> None:
    where = unknown_key(body, schema if schema is not None else route_schema(request))
    if where is not None:
        raise json_error(400, f"unknown field {where!r}")


def chat_json(row: Any, bridge: Bridge) -> dict[str, Any]:
    bound = bridge.registry.by_id(row.integration_id) if row.integration_id else None
    return {
        "id": row.id,
        "title": row.title,
        "state": row.state,
        "customer_id": row.customer_id,
        "integration": bound.integration.name if bound else None,
        "channel": bound.integration.channel if bound else None,
        "mark": bound.channel.spec.mark if bound else None,
        "assignee_id": row.assignee_id,
        "created_at": iso(row.created_at),
        "last_message_at": iso(row.last_message_at),
    }
