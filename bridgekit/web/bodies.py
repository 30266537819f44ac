"""Which keys a JSON request body of the manager and customer APIs may hold.

Each body is described by a JSON Schema: for ``/api/v1`` routes the route's ``requestBody`` in
the OpenAPI document (``bridgekit/web/openapi/*.json``), for the others (the customer link,
plugin routes) a schema the handler passes. Where a schema says ``additionalProperties:
false``, a key it does not list is refused (``common.json_object`` answers 400 naming it): a
misspelt or invented option (``{"text": …, "note": true}``) must not be dropped while the
rest is acted on. Types and ranges stay the handlers' own checks, with their own messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bridgekit.web.openapi_doc import merged_document

Schema = Mapping[str, Any]


def route_schema(request: web.Request) -> Schema:
    """The JSON request body schema the OpenAPI document gives the request's route."""
    path = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
    operation = merged_document()["paths"].get(path, {}).get(request.method.lower(), {})
    try:
        schema: Schema = operation["requestBody"]["content"]["application/json"]["schema"]
    except KeyError:
        # A handler reading a body the document does not describe: a bug, caught by the tests.
        raise LookupError(f"no JSON request body described for {request.method} {path}") from None
    return schema


def unknown_key(value: Any, schema: Schema, where: str = "") -> str | None:
    """The path (``contact.nmae``, ``form.fields[0].hint``) of the first key in ``value`` that
    ``schema`` forbids, or None."""
    schema = _resolve(schema)
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives:  # the alternative of the value's shape (an object, an array)
        shape = _shape(value)
        fitting = [s for s in map(_resolve, alternatives) if shape and _shape_of_schema(s) == shape]
        return unknown_key(value, fitting[0], where) if fitting else None
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if key in properties:
                found = unknown_key(item, properties[key], path)
            elif extra is False:
                return path
            else:
                found = unknown_key(item, extra, path) if isinstance(extra, Mapping) else None
            if found is not None:
                return found
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            found = unknown_key(item, schema["items"], f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _resolve(schema: Schema) -> Schema:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    name = ref.removeprefix("#/components/schemas/")
    resolved: Schema = merged_document()["components"]["schemas"][name]
    return _resolve(resolved)


def _shape(value: Any) -> str | None:
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None


def _shape_of_schema(schema: Schema) -> str | None:
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return "object"
    if kind == "array" or "items" in schema:
        return "array"
    return None
