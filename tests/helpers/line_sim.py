"""A waiting line simulated on a virtual clock, to hold the wait estimate to the real waits.

The model: visitors join the pre-queue (or arrive at a steady pace after opening), poll their
status every second while they wait, and a share of them leaves the line (``leave``) after a
patience drawn from an exponential distribution: skipped tickets, which speed the line up. An
admitted visitor learns of the turn at its next poll, books for a session length drawn from the
given family and then completes (sends ``complete``), or never does and the pass expires. The
room ticks every ``tick_seconds``, as the server does. For each visitor that got in, the
estimates it saw are recorded with the moment they were made, so that the real wait from then
on is known.
"""

from __future__ import annotations

import contextlib
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pyqueue

Draw = Callable[[random.Random], float]


@dataclass
class Seen:
    """One estimate a visitor saw: when, of what reason, and its range."""

    at: float
    low: float
    seconds: float
    high: float
    known: bool
    reason: str
    state: str


@dataclass
class Visitor:
    token: str
    joins_at: float
    leaves_at: float | None
    session: float
    completes: bool
    seen: list[Seen] = field(default_factory=list)
    aheads: list[int] = field(default_factory=list)
    admitted_at: float | None = None
    pass_token: str | None = None
    done: bool = False

    def wait_from(self, s: Seen) -> float:
        assert self.admitted_at is not None
        return self.admitted_at - s.at


@dataclass
class Line:
    """A simulated room. Times are seconds since opening."""

    admit_per_minute: float
    max_active: int
    session_seconds: int
    session: Draw
    prequeue: int = 0
    arrivals_per_second: float = 0.0
    arrivals_for: float = 0.0
    leave_share: float = 0.0
    patience_seconds: float = 5.0
    complete_share: float = 1.0
    tick_seconds: float = 0.1
    poll_seconds: float = 1.0
    heartbeat_seconds: int = 30
    seed: int = 1

    def run(self, until: float, signer: pyqueue.Signer) -> list[Visitor]:
        rng = random.Random(self.seed)
        opens = pyqueue.VirtualClock("2021-05-10T05:00:00Z").now()
        clock = pyqueue.VirtualClock(opens - timedelta(seconds=60))
        config = pyqueue.RoomConfig(
            "sim",
            opens,
            admit_per_minute=self.admit_per_minute,
            max_active=self.max_active,
            session_seconds=self.session_seconds,
            heartbeat_timeout_seconds=self.heartbeat_seconds,
            seed=self.seed,
        )
        room = pyqueue.Room(config, signer, clock)
        joins = [-30.0] * self.prequeue
        t = 0.0
        while self.arrivals_per_second > 0 and t < self.arrivals_for:
            t += rng.expovariate(self.arrivals_per_second)
            joins.append(t)
        visitors = []
        for at in joins:
            leaves = None
            if rng.random() < self.leave_share:
                leaves = at + rng.expovariate(1 / self.patience_seconds)
            visitors.append(
                Visitor("", at, leaves, self.session(rng), rng.random() < self.complete_share)
            )
        now = -30.0
        clock.set(opens + timedelta(seconds=now))
        pending = sorted(visitors, key=lambda v: v.joins_at)
        active: list[Visitor] = []
        steps = 0
        while now < until:
            while pending and pending[0].joins_at <= now:
                v = pending.pop(0)
                v.token = room.join().token
                if self._poll(room, v, now):  # in at once: places free and nobody waiting
                    active.append(v)
            if now >= 0:
                room.tick()
            for v in active:
                assert v.admitted_at is not None and v.pass_token is not None
                if now < v.admitted_at + min(v.session, self.session_seconds):
                    continue
                if v.completes and v.session < self.session_seconds:
                    with contextlib.suppress(pyqueue.TokenExpired):  # learnt of the turn late
                        room.complete(v.pass_token)
                v.done = True  # completed, or its pass expires
            active = [v for v in active if not v.done]
            per_poll = max(1, round(self.poll_seconds / self.tick_seconds))
            for i, v in enumerate(visitors):
                if not v.token or v.admitted_at is not None:
                    continue
                if v.leaves_at is not None and now >= v.leaves_at:
                    if v.token:
                        room.leave(v.token)
                    v.token = ""
                    continue
                if (i + steps) % per_poll == 0 and self._poll(room, v, now):
                    active.append(v)
            steps += 1
            now = round(now + self.tick_seconds, 6)
            clock.set(opens + timedelta(seconds=now))
        return visitors

    @staticmethod
    def _poll(room: pyqueue.Room, v: Visitor, now: float) -> bool:
        """One status poll; True when it found the visitor admitted."""
        status = room.status(v.token)
        if status.state == "admitted":
            v.admitted_at = now
            v.pass_token = status.pass_token
            return True
        if status.state in ("prequeue", "waiting"):
            e = status.eta
            v.seen.append(Seen(now, e.low, e.seconds, e.high, e.known, e.reason, status.state))
            if status.ahead is not None:
                v.aheads.append(status.ahead)
        return False


@dataclass
class Honesty:
    """How the estimates of the visitors who got in compare with their real waits."""

    inside_first: float
    inside_first_waiting: float
    #: Visitors whose first estimate in the line was judged (a real wait of ``min_wait``).
    judged: int
    known_abs_errors: list[float]
    known_ratios: list[float]
    first_known_at: float | None
    reasons: set[str]

    @property
    def median_abs_error(self) -> float:
        return statistics.median(self.known_abs_errors)

    @property
    def p90_abs_error(self) -> float:
        return statistics.quantiles(self.known_abs_errors, n=10)[-1]

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.known_ratios)


def honesty(visitors: list[Visitor], min_wait: float = 5.0, min_judged: float = 30.0) -> Honesty:
    """Of the visitors admitted after a real wait of at least ``min_wait`` (shorter ones are
    within the poll's own granularity): the share whose first estimate (and first estimate in
    the line, after the draw) held the real wait; and for real waits of at least ``min_judged``
    the errors of the first `known` estimate (a wait of a few seconds is a handful of admissions,
    whose chance alone moves it by a quarter). A range holds a wait when it does within one
    poll interval and one tick either side."""
    slack = 1.1
    got_in = [v for v in visitors if v.admitted_at is not None and v.seen]
    first_inside = waiting_inside = counted = waiting_counted = 0
    errors: list[float] = []
    ratios: list[float] = []
    first_known: float | None = None
    reasons: set[str] = set()
    for v in got_in:
        first = v.seen[0]
        real = v.wait_from(first)
        if real >= min_wait:
            counted += 1
            first_inside += first.low - slack <= real <= first.high + slack
        waiting = next((s for s in v.seen if s.state == "waiting"), None)
        if waiting is not None and v.wait_from(waiting) >= min_wait:
            waiting_counted += 1
            real = v.wait_from(waiting)
            waiting_inside += waiting.low - slack <= real <= waiting.high + slack
        reasons.update(s.reason for s in v.seen if s.state == "waiting")
        known = next((s for s in v.seen if s.known and s.state == "waiting"), None)
        if known is not None and v.wait_from(known) >= min_judged:
            real = v.wait_from(known)
            errors.append(abs(known.seconds - real) / real)
            ratios.append(known.high / max(known.low, 1e-9))
            first_known = known.at if first_known is None else min(first_known, known.at)
    return Honesty(
        first_inside / max(1, counted),
        waiting_inside / max(1, waiting_counted),
        waiting_counted,
        errors,
        ratios,
        first_known,
        reasons,
    )


def never_increases(visitors: list[Visitor]) -> bool:
    return all(b <= a for v in visitors for a, b in zip(v.aheads, v.aheads[1:], strict=False))
