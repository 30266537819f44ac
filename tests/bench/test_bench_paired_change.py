"""``benchlib.paired_change``: the before / after line of the LINE, SMTP and reply benches says
whether a run showed a change at all, not only a median that this machine's noise moves."""

from __future__ import annotations

import math
import sys

import pytest

from tests.bench.quick import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from benchlib import paired_change


def test_every_round_slower_is_a_drop_with_eight_rounds() -> None:
    before = [9500, 9100, 9800, 9300, 9650, 9400, 9200, 9700]
    after = [b * r for b, r in zip(before, [0.91, 0.94, 0.92, 0.93, 0.90, 0.95, 0.92, 0.93], strict=True)]
    change = paired_change(after, before)
    assert change is not None
    assert change.confidence >= 0.95
    assert change.high < 1
    assert change.verdict == "a drop"
    assert change.median == pytest.approx(0.925)
    line = change.describe("req/s after / before")
    assert line.startswith("req/s after / before by round: 0.91 0.94 0.92 0.93 0.90 0.95 0.92 0.93 | median")
    assert "99% interval 0.90-0.95: a drop" in line


def test_three_rounds_that_disagree_show_no_change_and_say_how_sure_they_are() -> None:
    change = paired_change([900.0, 1080.0, 970.0], [1000.0, 1000.0, 1000.0])
    assert change is not None
    assert (change.low, change.high) == pytest.approx((0.90, 1.08))
    assert change.confidence == pytest.approx(0.75)  # all three on one side: 2 / 8
    assert change.verdict == "no change shown"
    assert "75% interval 0.90-1.08: no change shown" in change.describe("mail/s after / before")


def test_the_interval_is_the_narrowest_the_confidence_allows() -> None:
    ratios = [0.80 + i / 100 for i in range(20)]  # 0.80 ... 0.99
    change = paired_change(ratios, [1.0] * 20)
    assert change is not None
    # 20 rounds: the 6th lowest to the 6th highest holds the median with 95.9%; the 7th would
    # hold it with only 88.5%.
    assert (change.low, change.high) == pytest.approx((0.85, 0.94))
    assert change.confidence == pytest.approx(1 - 2 * sum(math.comb(20, i) for i in range(6)) / 2**20)
    assert change.verdict == "a drop"


def test_a_gain_and_the_rounds_that_cannot_be_paired() -> None:
    change = paired_change([1.2, 1.1, 1.3, 1.15, 1.25, 1.2, 9.9], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    assert change is not None
    assert len(change.ratios) == 6
    assert change.low > 1
    assert change.verdict == "a gain"
    assert paired_change([], []) is None
