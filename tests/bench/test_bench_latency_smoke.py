"""Smoke test of ``bench/inbox_latency.py --quick`` (issue #14): a real server under LINE
webhook load, a manager's event stream open; every acknowledged message arrives on the stream
and the median, p99 and the one-second expectation are printed."""

from __future__ import annotations

import re

import pytest

from tests.bench.quick import run_bench

LATENCY_LINE = re.compile(
    r"^200 -> event on the stream, over (\d+) messages: median \d+\.\d ms, p99 \d+\.\d ms,"
    r" max \d+\.\d ms \(\d+ events \(\d+%\) arrived before their 200; 0 never arrived\)$",
    re.MULTILINE,
)
EXPECTATION_LINE = re.compile(
    r'^"a customer message shows up in an open inbox within one second": \d+% within 1 s,'
    r" p99 \d+ ms \(target <= 1000 ms\) (met|MISSED)$",
    re.MULTILINE,
)


@pytest.mark.slow
def test_inbox_latency_quick_run() -> None:
    stdout = run_bench("inbox_latency.py", "--quick", timeout=240)
    measured = LATENCY_LINE.search(stdout)
    assert measured, stdout
    assert int(measured.group(1)) > 0
    assert EXPECTATION_LINE.search(stdout), stdout
