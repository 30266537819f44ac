"""Smoke test of ``bench/inbox_views.py --quick`` (issues #5, #14): it fills two sizes, times the
first page of each view, the sidebar counts and the first screen through the API's code, checks
the kept counts against a recount and prints one ratio line per figure."""

from __future__ import annotations

import re

import pytest

from tests.bench.quick import run_bench

VIEWS = ("all", "mine", "unassigned", "tag", "integration", "newest", "sidebar", "first screen")
LINE = (
    r"^  {view} +1,000 +\d+\.\d\d ms \|    10,000 +\d+\.\d\d ms"
    r" \| ratio \d+\.\d\d \(target <= 2\) (met|MISSED)$"
)


@pytest.mark.slow
def test_inbox_views_quick_run() -> None:
    stdout = run_bench("inbox_views.py", "--quick", "--runs", "5", timeout=180)
    assert re.search(r"^  filled 10,000 chats in \d+\.\d s$", stdout, re.MULTILINE), stdout
    assert (
        len(re.findall(r"^  [0-9,]+ chats: kept counts equal a full recount \(", stdout, re.MULTILINE)) == 2
    ), stdout
    for view in VIEWS:
        assert re.search(LINE.format(view=view), stdout, re.MULTILINE), (view, stdout)
