"""Smoke test of ``bench/inbox_views.py --quick`` (issue #5): it fills two sizes, times the
first page of each view through the API's list code and prints one ratio line per view."""

from __future__ import annotations

import re

import pytest

from tests.bench.quick import run_bench

VIEWS = ("all", "mine", "unassigned", "tag", "integration", "newest")
LINE = (
    r"^  {view} +1,000 +\d+\.\d\d ms \|    10,000 +\d+\.\d\d ms"
    r" \| ratio \d+\.\d\d \(target <= 2\) (met|MISSED)$"
)


@pytest.mark.slow
def test_inbox_views_quick_run() -> None:
    stdout = run_bench("inbox_views.py", "--quick", "--runs", "5", timeout=180)
    assert re.search(r"^  filled 10,000 chats in \d+\.\d s$", stdout, re.MULTILINE), stdout
    for view in VIEWS:
        assert re.search(LINE.format(view=view), stdout, re.MULTILINE), (view, stdout)
