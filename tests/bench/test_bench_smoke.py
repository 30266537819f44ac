"""Smoke test of ``bench/line_ingest.py --quick`` (issue #4): it runs, prints the ratios, and
checks that bridgekit stored every webhook it acknowledged."""

from __future__ import annotations

import re

import pytest

from tests.bench.quick import run_bench

RATIO_LINE = re.compile(
    r"^bridgekit \d+ req/s \| baseline-a \(line-bot-sdk parse\) \d+ \| baseline-b \(hmac\+sqlite3\) \d+"
    r" \| ratio vs a \d+\.\d\d \(target >= 1\) (met|MISSED)"
    r" \| ratio vs b \d+\.\d\d \(target >= 0\.6\) (met|MISSED)$",
    re.MULTILINE,
)
STORAGE_LINE = re.compile(
    r"^storage check: all (\d+) acknowledged messages were stored by bridgekit .*: OK$", re.MULTILINE
)


@pytest.mark.slow
def test_line_ingest_quick_run() -> None:
    pytest.importorskip(
        "linebot.v3.webhook", reason="baseline a needs line-bot-sdk (LINE plugin's test extra)"
    )
    stdout = run_bench("line_ingest.py", "--quick")
    assert RATIO_LINE.search(stdout), stdout
    stored = STORAGE_LINE.search(stdout)
    assert stored, stdout
    assert int(stored.group(1)) > 0, stdout
