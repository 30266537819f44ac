"""Every hook is typed and documented (docstring and docs/hooks.md), like pytest and datasette."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from bridgekit import hookspecs

DOCS = Path(__file__).parent.parent / "docs" / "hooks.md"
HOOKS = sorted(
    name for name, fn in vars(hookspecs).items() if name.startswith("bridgekit_") and inspect.isfunction(fn)
)


def documented_hooks() -> dict[str, str]:
    """Heading ``### bridgekit_x(args)`` -> the args text, from docs/hooks.md."""
    text = DOCS.read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r"^### (bridgekit_\w+)\(([^)]*)\)", text, re.M)}


def test_the_contract_has_the_hooks_the_spec_requires() -> None:
    """P1: ingest, identify customer, deliver, bill, and flow hooks for bots."""
    for required in ("ingest", "identify_customer", "deliver", "bill", "message_received", "channels"):
        assert f"bridgekit_{required}" in HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_docstring_and_typed_arguments(name: str) -> None:
    fn = getattr(hookspecs, name)
    assert (fn.__doc__ or "").strip(), f"{name} has no docstring"
    signature = inspect.signature(fn)
    assert signature.return_annotation is not inspect.Signature.empty, f"{name} has no return type"
    for param in signature.parameters.values():
        assert param.annotation is not inspect.Parameter.empty, f"{name}({param.name}) is untyped"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_in_docs_hooks_md_with_its_arguments(name: str) -> None:
    docs = documented_hooks()
    assert name in docs, f"{name} is missing from docs/hooks.md"
    documented_args = [a.strip() for a in docs[name].split(",") if a.strip()]
    assert documented_args == list(inspect.signature(getattr(hookspecs, name)).parameters)


def test_docs_describe_no_hook_that_does_not_exist() -> None:
    assert sorted(documented_hooks()) == HOOKS


def test_every_member_of_the_bridge_api_is_documented() -> None:
    """What a plugin may call on the server is documented in docs/hooks.md, member by member."""
    from bridgekit import BridgeAPI

    docs = (Path(__file__).resolve().parents[1] / "docs" / "hooks.md").read_text(encoding="utf-8")
    members = [name for name in vars(BridgeAPI) if not name.startswith("_")]
    assert {"submit", "public_url"} <= set(members)
    missing = [name for name in members if f"bridge.{name}" not in docs]
    assert not missing, f"BridgeAPI members missing from docs/hooks.md: {missing}"


def test_the_core_bridge_is_what_the_contract_promises() -> None:
    """Every BridgeAPI member exists on the core's Bridge with the same parameters."""
    from bridgekit import BridgeAPI
    from bridgekit.engine.bridge import Bridge

    for name, member in vars(BridgeAPI).items():
        if name.startswith("_"):
            continue
        assert hasattr(Bridge, name), name
        if callable(member):
            assert list(inspect.signature(member).parameters) == list(
                inspect.signature(getattr(Bridge, name)).parameters
            ), name
