"""Imports point one way, and plugins see only the public API.

Read from the source (``ast``), so a forbidden import fails here even where it would work at
run time:

- the contract (what a plugin author codes against) imports nothing but the contract: no
  core, no web, no server;
- a layer imports only its own layer and lower ones: contract < runtime < storage < queues <
  inbox < ingest < engine < web and the toolkit < the programs (cli, demo, scaffold, testing);
- a plugin imports from bridgekit only the public API: the contract, the channel toolkit and
  the testing helpers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONTRACT = {
    "bridgekit",
    "bridgekit.addresses",
    "bridgekit.bridge_api",
    "bridgekit.demo_provider",
    "bridgekit.exceptions",
    "bridgekit.flow",
    "bridgekit.frozen_init",
    "bridgekit.hookspecs",
    "bridgekit.model",
    "bridgekit.payloads",
    "bridgekit.redaction",
    "bridgekit.text_units",
}
# Lowest first; a module not listed by name belongs to the first prefix that matches it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("contract", tuple(sorted(CONTRACT))),
    ("runtime", ("bridgekit.runtime", "bridgekit.config", "bridgekit.plugins", "bridgekit.logs")),
    ("storage", ("bridgekit.storage", "bridgekit.migrations")),
    ("queues", ("bridgekit.queues",)),
    ("inbox", ("bridgekit.inbox",)),
    ("ingest", ("bridgekit.ingest",)),
    ("engine", ("bridgekit.engine",)),
    ("web and toolkit", ("bridgekit.web", "bridgekit.channelkit")),
    (
        "programs",
        (
            "bridgekit.cli",
            "bridgekit.demo",
            "bridgekit.banner",
            "bridgekit.scaffold",
            "bridgekit.supervisor",
            "bridgekit.testing",
        ),
    ),
]
TOOLKITS = ("bridgekit.channelkit", "bridgekit.testing")


def is_public(module: str) -> bool:
    return module in CONTRACT or within(module, TOOLKITS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "plugins":
        parts = parts[2:]  # plugins/<dist>/<package>/...
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import of a bridgekit module in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "bridgekit":  # ``from bridgekit import model`` names a module
                names += [f"bridgekit.{a.name}" for a in node.names if f"bridgekit.{a.name}" in CONTRACT]
            yield from ((node.lineno, name) for name in names)
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)


def is_bridgekit(module: str) -> bool:
    return module == "bridgekit" or module.startswith("bridgekit.")


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer(module: str) -> int:
    if module in CONTRACT:
        return 0
    for level, (_name, prefixes) in enumerate(LAYERS):
        if level and within(module, prefixes):
            return level
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")


def core_files() -> list[Path]:
    return sorted((ROOT / "bridgekit").rglob("*.py"))


def plugin_files() -> list[Path]:
    return sorted(ROOT.glob("plugins/*/bridgekit_*/**/*.py"))


def test_the_contract_imports_only_the_contract() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in core_files()
        if module_name(path) in CONTRACT
        for line, target in imports(path)
        if is_bridgekit(target) and target not in CONTRACT
    ]
    assert not bad, "the contract must not depend on the server:\n" + "\n".join(bad)


def test_no_layer_imports_a_higher_one() -> None:
    bad = []
    for path in core_files():
        source = module_name(path)
        for line, target in imports(path):
            if is_bridgekit(target) and layer(target) > layer(source):
                bad.append(
                    f"{path.relative_to(ROOT)}:{line} ({LAYERS[layer(source)][0]}) imports {target}"
                    f" ({LAYERS[layer(target)][0]})"
                )
    assert not bad, "imports must point down the layers:\n" + "\n".join(bad)


def test_plugins_import_only_the_public_api() -> None:
    files = plugin_files()
    assert len(files) > 20  # the four shipped plugins are found
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in files
        for line, target in imports(path)
        if is_bridgekit(target) and not is_public(target)
    ]
    assert not bad, "plugins may use bridgekit's public API only (see docs/hooks.md):\n" + "\n".join(bad)


def test_the_checks_see_a_forbidden_import(tmp_path: Path) -> None:
    """The rules above catch what they are for (a plugin reaching into the core)."""
    sample = tmp_path / "plugin.py"
    sample.write_text("from bridgekit.engine.bridge import Bridge\nfrom bridgekit import model\n")
    found = [target for _line, target in imports(sample) if not is_public(target)]
    assert found == ["bridgekit.engine.bridge"]
    assert layer("bridgekit.web.api") > layer("bridgekit.inbox.chats") > layer("bridgekit.model")
    assert (
        layer("bridgekit.ingest.pipeline") > layer("bridgekit.inbox.chats") > layer("bridgekit.queues.outbox")
    )
    assert layer("bridgekit.queues.outbox") > layer("bridgekit.storage.db") > layer("bridgekit.runtime.clock")
