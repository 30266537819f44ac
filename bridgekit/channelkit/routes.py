"""For a plugin's own HTTP routes (``bridgekit_routes``): the API's conventions, importable.

Answers and errors are JSON like the rest of the API (``json_response``, ``json_error``);
bodies are read by ``json_object(request, schema)``, which checks them against the JSON
Schema (unknown keys, required fields, types; 400 in words otherwise); ``operator_only``
guards a handler whose action reaches outside the inbox, ``admin_only`` one that changes the
workspace's setup; stored bytes are served with ``file_response`` / ``bytes_response``
(nosniff, a download disposition, active types as ``application/octet-stream``, a sandboxing
CSP). Routes under ``/api/`` already require a manager's bearer token; ``request_manager_id``
is whose it is (for ``BridgeAPI.send_to_customer(manager_id=...)``); ``path_id`` reads a row
id from the path, None for anything no id column holds.

These are the web layer's own helpers, re-exported so that plugins import only bridgekit's
public API (``tests/test_import_contract.py``).
"""

from __future__ import annotations

from aiohttp import web

from bridgekit.bridge_api import BridgeAPI
from bridgekit.model import Integration
from bridgekit.web.auth import admin_only, operator_only
from bridgekit.web.common import json_object, path_id
from bridgekit.web.downloads import bytes_response, file_response
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import current_manager


def request_manager_id(request: web.Request) -> int:
    """The id of the manager making a request to a route under ``/api/``."""
    return current_manager(request).id


def integration_named(bridge: BridgeAPI | None, channel: str, name: object, what: str) -> Integration:
    """The integration of ``channel`` a request names (``name``), or the only one when it names
    none; a JSON 503 before the bridge started, 404 for an unknown name, 400 when the name is
    needed or no integration exists. ``what`` is how the answer calls it ("Alimtalk")."""
    if bridge is None:
        raise json_error(503, "the plugin is not started")
    found = bridge.integrations_for(channel)
    if name is not None:
        found = [i for i in found if i.name == name]
        if not found:
            raise json_error(404, f"no {what} integration named {name!r}")
    if len(found) != 1:
        needed = f"name the {what} integration ('integration')"
        raise json_error(400, needed if found else f"no {what} integration")
    return found[0]


__all__ = [
    "admin_only",
    "bytes_response",
    "file_response",
    "integration_named",
    "json_error",
    "json_object",
    "json_response",
    "operator_only",
    "path_id",
    "request_manager_id",
]
