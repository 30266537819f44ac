"""For a plugin's own HTTP routes (``bridgekit_routes``): the API's conventions, importable.

Answers and errors are JSON like the rest of the API (``json_response``, ``json_error``);
bodies are read by ``json_object(request, schema)``, which refuses keys the JSON Schema does
not allow; ``operator_only`` guards a handler whose action reaches outside the inbox, ``admin_only`` one
that changes the workspace's setup; stored
bytes are served with ``file_response`` / ``bytes_response`` (nosniff, a download
disposition, active types as ``application/octet-stream``, a sandboxing CSP). Routes under
``/api/`` already require a manager's bearer token; ``request_manager_id`` is whose it is
(for ``BridgeAPI.send_to_customer(manager_id=...)``); ``path_id`` reads a row id from the
path, None for anything no id column holds.

These are the web layer's own helpers, re-exported so that plugins import only bridgekit's
public API (``tests/test_import_contract.py``).
"""

from __future__ import annotations

from aiohttp import web

from bridgekit.web.auth import admin_only, operator_only
from bridgekit.web.common import json_object, path_id
from bridgekit.web.downloads import bytes_response, file_response
from bridgekit.web.jsonio import json_error, json_response
from bridgekit.web.keys import current_manager


def request_manager_id(request: web.Request) -> int:
    """The id of the manager making a request to a route under ``/api/``."""
    return current_manager(request).id


__all__ = [
    "admin_only",
    "bytes_response",
    "file_response",
    "json_error",
    "json_object",
    "json_response",
    "operator_only",
    "path_id",
    "request_manager_id",
]
