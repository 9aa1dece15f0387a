"""The honesty figures of the surge replays (pyqueue/surge/honesty.py) on hand-made estimates
and waits, whose right answers are worked out by hand in the comments."""

from __future__ import annotations

import math

import pytest

from pyqueue.surge.driver import Estimate, Visitor
from pyqueue.surge.honesty import (
    Honesty,
    Judged,
    Spread,
    aims_missed,
    at_half_wait,
    first_known,
    honesty,
    judge,
    known_after,
    since,
    width,
)


def est(at: int, low: float, seconds: float, high: float, known: bool = True, reason=None):
    return Estimate(at, low, seconds, high, known, reason)


def visitor(index: int, admitted_at: float | None, *estimates: Estimate) -> Visitor:
    v = Visitor(index, f"v{index}", 0, None, None, None, False, False)
    v.admitted_at = admitted_at
    v.estimates = list(estimates)
    return v


def test_judge_gives_signed_and_absolute_errors_the_share_inside_and_the_width():
    judged = judge(
        [
            (est(0, 50, 100, 200, reason="rate"), 100.0),  # exact, inside, width 4
            (est(0, 10, 20, 40, reason="capacity"), 80.0),  # -75 %, above the range, width 4
            (est(0, 0, 90, 120, reason="capacity"), 60.0),  # +50 %, inside, width infinite
            (est(0, 0, 0, 0), 10.0),  # a wait under 30 s: left out
        ]
    )
    assert judged.count == 3
    assert judged.signed == Spread(p10=-0.75, median=0.0, p90=0.5)
    assert judged.absolute == Spread(p10=0.0, median=0.5, p90=0.75)
    assert judged.inside == pytest.approx(2 / 3)
    assert judged.width == 4.0
    assert judged.reasons == {"rate": 1, "capacity": 2}


def test_judge_of_nothing_has_no_figures():
    assert judge([(est(0, 0, 5, 10), 29.0)]) == Judged()
    assert Spread.of([]) == Spread()


def test_width_is_high_over_low_and_infinite_from_zero():
    assert width(est(0, 30, 45, 60)) == 2.0
    assert width(est(0, 0, 10, 20)) == math.inf
    assert width(est(0, 0, 0, 0)) == 1.0


def test_the_estimate_at_half_the_wait_is_the_last_one_shown_by_the_midpoint():
    shown = [est(100, 0, 80, 0), est(110, 0, 70, 0), est(120, 0, 55, 0), est(131, 0, 40, 0)]
    # First estimate at 100, admitted at 160: the midpoint is 130, the last shown by it at 120.
    assert at_half_wait(shown, 160.0) == shown[2]
    assert at_half_wait([], 160.0) is None


def test_first_known_and_since_pick_from_the_judged_instant():
    shown = [est(5, 0, 9, 0, known=False), est(10, 0, 8, 0), est(20, 0, 7, 0, known=False)]
    assert first_known(shown) == shown[1]
    assert first_known(shown[2:]) is None
    assert since(shown, 10) == shown[1:]


def test_known_after_is_the_first_known_estimate_anyone_saw_after_the_instant():
    visitors = [
        visitor(0, 500.0, est(90, 0, 1, 2), est(130, 0, 1, 2)),
        visitor(1, None, est(110, 0, 1, 2, known=False), est(125, 0, 1, 2)),
    ]
    # The known one at 90 is before the instant; the first known after 100 is at 125.
    assert known_after(visitors, 100.0) == 25.0
    assert known_after(visitors, 200.0) is None


def test_honesty_judges_admitted_visitors_from_the_judged_instant():
    visitors = [
        # Before the judged instant (1,100) the estimates do not count: the first judged one is
        # at 1,100 (wait 100, estimated 60: -40 %, outside [40, 80]), known at 1,120 (wait 80,
        # estimated 80: exact, inside [60, 100]); half the wait from 1,100 is 1,150, the last
        # estimate by then the one at 1,120.
        visitor(
            0,
            1200.0,
            est(1000, 100, 150, 200),
            est(1100, 40, 60, 80, known=False),
            est(1120, 60, 80, 100),
            est(1160, 30, 40, 50),
        ),
        # Never admitted: no real wait to compare with.
        visitor(1, None, est(1100, 10, 20, 30, known=False)),
    ]
    h = honesty(visitors, opens_at=1000.0, judged_from=1100.0)
    assert h.judged_after_seconds == 100.0
    assert (h.first.count, h.first.signed.median, h.first.inside) == (1, -0.4, 0.0)
    assert (h.known.count, h.known.signed.median, h.known.inside) == (1, 0.0, 1.0)
    assert (h.half.count, h.half.signed.median) == (1, 0.0)
    assert h.known_after_seconds == 20.0


def test_aims_missed_names_each_aim_and_counts_missing_data_as_missed():
    good = Judged(count=10, absolute=Spread(0.0, 0.05, 0.2), inside=0.9, width=1.8)
    met = Honesty(0.0, first=good, known=good, half=good, known_after_seconds=30.0)
    assert aims_missed(met) == []
    nothing_known = Honesty(0.0, first=good, known=Judged(), half=good, known_after_seconds=None)
    assert len(aims_missed(nothing_known)) == 4
    poor = Honesty(
        0.0,
        first=Judged(count=10, inside=0.5),
        known=Judged(count=10, absolute=Spread(0.0, 0.3, 0.6), width=3.0),
        half=good,
        known_after_seconds=90.0,
    )
    assert len(aims_missed(poor)) == 5
