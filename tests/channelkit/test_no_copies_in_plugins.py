"""The shipped plugins use the channel toolkit instead of their own copies of it.

Fails when a plugin's provider code (its sandbox and demo stand-ins are not) opens its own
HTTP session, parses ``Retry-After``, streams a download, counts UTF-16 units, splits
grapheme clusters or reads its settings and secrets by hand, and when a sandbox (the
scaffold's too) runs its own server lifecycle: use ``bridgekit.channelkit`` (docs/hooks.md,
"Channel toolkit").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
STAND_INS = {"sandbox.py", "sandbox_webhooks.py", "demo.py"}

#: what a copy looks like -> the toolkit part to use instead
COPIES = {
    "ClientSession(": "ProviderSession",
    "parsedate_to_datetime": "parse_retry_after",
    "iter_chunked": "fetch_media",
    "content_length": "fetch_media",
    "utf-16": "UTF16_UNITS / split_text",
    "0xFFFF": "UTF16_UNITS / split_text",
    r"\X": "split_text",
    "except TimeoutError": "transport_errors",
    "OrderedDict": "TTLCache",
    # reading integration.settings / .secrets key by key skips the start-up check
    ".settings.get(": "ChannelSettings.from_integration",
    ".secrets.get(": "ChannelSettings.from_integration",
    ".settings[": "ChannelSettings.from_integration",
    ".secrets[": "ChannelSettings.from_integration",
}
#: what a copy of the sandbox lifecycle looks like -> the toolkit part to use instead
SANDBOX_COPIES = {
    "AppRunner(": "HttpSandbox",
    "TCPSite(": "HttpSandbox",
    "def __aenter__": "SandboxServer",
    "def __aexit__": "SandboxServer",
}
SCAFFOLD = Path(__file__).resolve().parents[2] / "bridgekit" / "scaffold_template"
#: (plugin package, pattern) that is not a copy, and why
NOT_COPIES = {("bridgekit_email_forward", "parsedate_to_datetime"): "a mail's Date header, not Retry-After"}


def provider_modules() -> list[Path]:
    return sorted(
        path
        for path in PLUGINS.glob("*/bridgekit_*/*.py")
        if path.name not in STAND_INS and ".egg-info" not in str(path)
    )


def test_the_plugins_are_found() -> None:
    names = {path.parent.name for path in provider_modules()}
    assert {"bridgekit_line", "bridgekit_instagram", "bridgekit_naver", "bridgekit_email_forward"} <= names


@pytest.mark.parametrize("path", provider_modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_plugin_keeps_a_copy_of_the_toolkit(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    found = {
        copy: use
        for copy, use in COPIES.items()
        if copy in source and (path.parent.name, copy) not in NOT_COPIES
    }
    copies = ", ".join(f"{copy!r} (use {use})" for copy, use in found.items())
    assert not found, f"{path.parent.name}/{path.name} has its own copy of: {copies}"


def sandboxes() -> list[Path]:
    found = [p for p in PLUGINS.glob("*/bridgekit_*/sandbox.py") if ".egg-info" not in str(p)]
    return sorted([*found, SCAFFOLD / "bridgekit_NAME" / "sandbox.py.tmpl"])


def test_every_sandbox_is_found() -> None:
    assert len(sandboxes()) >= 7  # the scaffold and every plugin with a provider sandbox


@pytest.mark.parametrize("path", sandboxes(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_sandbox_keeps_its_own_server_lifecycle(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    found = {copy: use for copy, use in SANDBOX_COPIES.items() if copy in source}
    copies = ", ".join(f"{copy!r} (use {use})" for copy, use in found.items())
    assert not found, f"{path.parent.name}/{path.name} has its own copy of: {copies}"
    assert re.search(r"^class \S+\((HttpSandbox|SandboxServer)\):", source, re.M), "no toolkit sandbox class"
