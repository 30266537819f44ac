"""Refusals a client tells apart carry a stable ``code`` (issue 14, "errors a person can
read"): every code the server can answer is documented in docs/api.md and has its words in
each of the browser's catalogues, so the inbox never falls back to English for one of them."""

from __future__ import annotations

import re
from pathlib import Path

import bridgekit
from bridgekit.web.i18n import CATALOGUES, LANGS

ROOT = Path(bridgekit.__file__).parent
CODE = re.compile(r"""\bcode=["']([a-z_]+)["']""")


def _codes() -> set[str]:
    """Every code the core or a bundled plugin (``plugins/*/bridgekit_*``) can answer."""
    paths = [*ROOT.rglob("*.py"), *ROOT.parent.glob("plugins/*/bridgekit_*/**/*.py")]
    return {code for path in paths for code in CODE.findall(path.read_text(encoding="utf-8"))}


def test_every_error_code_is_documented_and_translated() -> None:
    codes = _codes()
    # the refusals the issue names, at least
    assert {"operator_seat", "permission", "too_many_tags", "file_too_large", "snooze_too_far"} <= codes
    assert {"chat_closed", "rate_limited"} <= codes
    assert {"customer_unreachable", "kakao_not_friend", "kakao_ad_hours"} <= codes  # bundled plugins too
    api_doc = (ROOT.parent / "docs" / "api.md").read_text(encoding="utf-8")
    for code in sorted(codes):
        assert f"`{code}`" in api_doc, code
        for lang in LANGS:
            assert f"error.{code}" in CATALOGUES[lang], (lang, code)
