"""Smoke test of ``bench/smtp_ingest.py --quick`` (issue #3): it runs, and it checks storage."""

from __future__ import annotations

import re

import pytest

from tests.bench.quick import run_bench

RATIO_LINE = re.compile(
    r"^bridgekit \d+ mail/s \| baseline \(aiosmtpd\+mail-parser, no storage\) \d+ mail/s"
    r" \| ratio \d+\.\d\d \(target >= 0\.7\) (OK|MISSED|UNRELIABLE)$",
    re.MULTILINE,
)
STORAGE_LINE = re.compile(
    r"^storage check: all (\d+) accepted mails were stored by bridgekit .*: OK$", re.MULTILINE
)


@pytest.mark.slow
def test_smtp_ingest_quick_run() -> None:
    stdout = run_bench("smtp_ingest.py", "--quick")
    assert RATIO_LINE.search(stdout), stdout
    stored = STORAGE_LINE.search(stdout)
    assert stored, stdout
    assert int(stored.group(1)) > 0, stdout
