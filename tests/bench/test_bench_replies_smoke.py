"""Smoke test of ``bench/api_replies.py --quick``: it runs, every reply it posted was stored
with its outbox job (the bench exits non-zero otherwise), and it prints the ratios."""

from __future__ import annotations

import re

import pytest

from tests.bench.quick import run_bench

SUMMARY = re.compile(
    r"^bridgekit \d+ replies/s \(\d+\.\d\d ms CPU a reply\) \| baseline \d+ \(\d+\.\d\d ms\)"
    r" \| ratio \d+\.\d\d \| CPU x \d+\.\d\d$",
    re.MULTILINE,
)


@pytest.mark.slow
def test_api_replies_quick_run() -> None:
    stdout = run_bench("api_replies.py", "--quick")
    assert SUMMARY.search(stdout), stdout
    assert "bridgekit round 1:" in stdout, stdout
    assert "baseline  round 1:" in stdout, stdout
