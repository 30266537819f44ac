"""The shipped plugins use the channel toolkit instead of their own copies of it.

Fails when a plugin's provider code (its sandbox and demo stand-ins are not) opens its own
HTTP session, parses ``Retry-After``, streams a download, counts UTF-16 units or splits
grapheme clusters: use ``bridgekit.channelkit`` (docs/hooks.md, "Channel toolkit").
"""

from __future__ import annotations

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
}
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
