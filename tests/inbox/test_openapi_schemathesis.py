"""The manager API against its own description, property-based (schemathesis).

For each documented operation, schemathesis generates requests that fit the schema (and, for
the negative pass, that do not), sends them with a manager's bearer token to a running bridge
holding a few chats, and checks that nothing answers 5xx and that every answer is a documented
status with a documented content type and body. What an integrator reads in
``/api/v1/openapi.json`` is what the server does.

Runs are deterministic (``derandomize``) and small so the suite stays fast and a failure
reproduces; the generated requests run in a worker thread because schemathesis' client is
synchronous and the server runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridgekit.testing.harness import RunningBridge
from bridgekit.web.openapi_doc import HTTP_METHODS
from tests.conftest import integration, signed
from tests.support.testchannel import TestChannelPlugin

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the test extras")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

POSITIVE_EXAMPLES = 15
NEGATIVE_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations a request/response client cannot exercise, with the reason.
SKIP = {("GET", "/api/v1/events"): "an endless text/event-stream; tests/inbox/test_realtime_stream.py"}


# Reads first, deletions last: later operations still find the seeded chats to act on.
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}


def documented_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    operations = [(m.upper(), p) for p, item in document["paths"].items() for m in item if m in HTTP_METHODS]
    return sorted(operations, key=lambda op: (METHOD_ORDER.get(op[0], 1), op[1], op[0]))


def fuzz(schema: Any, method: str, path: str, base_url: str, token: str) -> None:
    """Generate and send requests for one operation; raises on the first failed check."""
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {token}"}
    for mode, examples in (
        (schemathesis.GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
        (schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
    ):

        @settings(
            max_examples=examples,
            deadline=None,  # a real server on a real database; the timeout below bounds each call
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

        try:
            check()
        except Unsatisfiable:
            # Nothing to negate: the operation takes no parameters and no body.
            if mode is schemathesis.GenerationMode.POSITIVE:
                raise


def fuzz_all(document: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Every documented operation in turn; one report per operation that failed."""
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    for method, path in documented_operations(document):
        if (method, path) in SKIP:
            continue
        try:
            fuzz(schema, method, path, base_url, token)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is the latter
            failures.append(f"--- {method} {path}\n{exc}")
    return failures


async def test_every_operation_honours_its_description(
    make_bridge, sandbox_url: str, channel_plugin: TestChannelPlugin
) -> None:
    """No 5xx, only documented statuses, content types and bodies, for every endpoint (I1-I19).

    One bridge serves the whole run (starting one per operation would cost more than the
    requests); the report names every operation that failed, with a curl line to reproduce.
    """
    running: RunningBridge = await make_bridge(
        plugins={"testchat": channel_plugin}, integrations={"acme": integration(sandbox_url)}
    )
    for n in range(1, 4):  # a few chats, so ids 1..3 exist and lists are not empty
        body, headers = signed({"id": f"ev-{n}", "user": f"u-{n}", "name": f"Customer {n}", "text": "hello"})
        assert (await running.post_hook("acme", body, headers))[0] == 200
    async with running.session.get(f"{running.url}/api/v1/openapi.json") as resp:
        document = await resp.json()
    token = running.session.headers["Authorization"].partition(" ")[2]
    failures = await asyncio.to_thread(fuzz_all, document, running.url, token)
    assert not failures, f"{len(failures)} operation(s) do not honour the document:\n" + "\n".join(failures)
