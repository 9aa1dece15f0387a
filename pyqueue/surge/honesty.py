"""How honest the wait estimates of a replay were: each estimate a visitor saw against the wait
that really followed it (admission time minus the estimate's time).

Three estimates per visitor are judged, all made at or after the instant from which the
scenario is judged (the opening, or the last operator action: nobody can foresee an
unannounced pause or rate change):

- the *first* one the visitor saw;
- the first one marked ``known``;
- the one shown at *half* the real wait (the last shown at or before the midpoint between the
  first estimate and the admission), against the wait still left then.

For each: the signed error (estimated - real) / real and its absolute value (median, p10, p90),
the share whose real wait fell inside ``[low, high]``, the range's width (median ``high / low``;
infinite where ``low`` is 0) and what the estimates rested on (``eta.reason``, where the status
has it). Only visitors who were admitted count, and only real waits of at least
``MIN_WAIT_FOR_ERROR`` (a shorter one is mostly the next poll's delay). Besides, how long after
the judged instant the first estimate marked ``known`` was shown to anyone.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pyqueue.surge.driver import Estimate, Visitor
from pyqueue.surge.percentile import percentile

#: Below this real wait (seconds) a relative error says nothing (the next poll alone is 2 s).
MIN_WAIT_FOR_ERROR = 30.0

#: The aims an honest estimate is held to (issue "an honest wait also when the booking site is
#: the bottleneck"): shown beside the figures, not enforced.
AIM_INSIDE = 0.80
AIM_KNOWN_WIDTH = 2.0
AIM_KNOWN_ERROR_MEDIAN = 0.10
AIM_KNOWN_ERROR_P90 = 0.25
AIM_KNOWN_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class Spread:
    """p10, median and p90 of some values; all None for no values."""

    p10: float | None = None
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls()
        return cls(percentile(values, 0.1), statistics.median(values), percentile(values, 0.9))


@dataclass(frozen=True)
class Judged:
    """One kind of estimate, one per visitor, against the real waits."""

    count: int = 0
    signed: Spread = field(default_factory=Spread)
    absolute: Spread = field(default_factory=Spread)
    #: Share of visitors whose real wait fell inside ``[low, high]``.
    inside: float | None = None
    #: Median ``high / low``.
    width: float | None = None
    #: ``eta.reason`` of the estimates, counted (absent reasons are not counted).
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Honesty:
    #: Seconds after opening from which estimates are judged.
    judged_after_seconds: float
    first: Judged
    known: Judged
    half: Judged
    #: Seconds from the judged instant to the first estimate marked ``known`` anyone saw;
    #: None if none was.
    known_after_seconds: float | None


def width(estimate: Estimate) -> float:
    """``high / low``: how many times the range's top is its bottom (infinite from 0)."""
    if estimate.low > 0:
        return estimate.high / estimate.low
    return 1.0 if estimate.high <= 0 else math.inf


def judge(pairs: Iterable[tuple[Estimate, float]]) -> Judged:
    """Estimates against the real waits that followed them, the short waits left out."""
    kept = [(e, real) for e, real in pairs if real >= MIN_WAIT_FOR_ERROR]
    if not kept:
        return Judged()
    signed = [(e.seconds - real) / real for e, real in kept]
    return Judged(
        count=len(kept),
        signed=Spread.of(signed),
        absolute=Spread.of([abs(x) for x in signed]),
        inside=sum(1 for e, real in kept if e.low <= real <= e.high) / len(kept),
        width=statistics.median([width(e) for e, _ in kept]),
        reasons=dict(Counter(e.reason for e, _ in kept if e.reason is not None)),
    )


def since(estimates: Sequence[Estimate], instant: float) -> list[Estimate]:
    return [e for e in estimates if e.at >= instant]


def first_estimate(estimates: Sequence[Estimate]) -> Estimate | None:
    return estimates[0] if estimates else None


def first_known(estimates: Sequence[Estimate]) -> Estimate | None:
    return next((e for e in estimates if e.known), None)


def at_half_wait(estimates: Sequence[Estimate], admitted_at: float) -> Estimate | None:
    """The estimate shown at half the real wait: the last one at or before the midpoint
    between the first estimate and the admission."""
    if not estimates:
        return None
    middle = (estimates[0].at + admitted_at) / 2
    shown = [e for e in estimates if e.at <= middle]
    return shown[-1] if shown else None


def known_after(visitors: Sequence[Visitor], instant: float) -> float | None:
    """Seconds from ``instant`` to the first estimate marked ``known`` any visitor saw."""
    times = [e.at for v in visitors for e in v.estimates if e.known and e.at >= instant]
    return min(times) - instant if times else None


def honesty(visitors: Sequence[Visitor], opens_at: float, judged_from: float) -> Honesty:
    """The estimates of a replay's visitors, judged from ``judged_from`` (epoch seconds)."""
    first: list[tuple[Estimate, float]] = []
    known: list[tuple[Estimate, float]] = []
    half: list[tuple[Estimate, float]] = []
    for v in visitors:
        if v.admitted_at is None:
            continue
        judged = since(v.estimates, judged_from)
        for pick, into in (
            (first_estimate(judged), first),
            (first_known(judged), known),
            (at_half_wait(judged, v.admitted_at), half),
        ):
            if pick is not None:
                into.append((pick, v.admitted_at - pick.at))
    return Honesty(
        judged_after_seconds=judged_from - opens_at,
        first=judge(first),
        known=judge(known),
        half=judge(half),
        known_after_seconds=known_after(visitors, judged_from),
    )


def aims_missed(h: Honesty) -> list[str]:
    """The aims the replay's estimates missed, in words (empty: all met). An aim without
    data (no estimate marked ``known``, say) is missed."""
    missed = []
    if h.first.inside is None or h.first.inside < AIM_INSIDE:
        missed.append(f"first estimate's range holds the wait for < {AIM_INSIDE:.0%}")
    if h.known.width is None or h.known.width > AIM_KNOWN_WIDTH:
        missed.append(f"known range wider than high/low {AIM_KNOWN_WIDTH:g}")
    error = h.known.absolute
    if error.median is None or error.median > AIM_KNOWN_ERROR_MEDIAN:
        missed.append(f"known median error > {AIM_KNOWN_ERROR_MEDIAN:.0%}")
    if error.p90 is None or error.p90 > AIM_KNOWN_ERROR_P90:
        missed.append(f"known p90 error > {AIM_KNOWN_ERROR_P90:.0%}")
    if h.known_after_seconds is None or h.known_after_seconds > AIM_KNOWN_AFTER_SECONDS:
        missed.append(f"known later than {AIM_KNOWN_AFTER_SECONDS:.0f} s")
    return missed
