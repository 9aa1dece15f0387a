"""Prometheus metrics at ``/metrics``.

Requests are counted in plain integers (a dict increment per request) and turned into
Prometheus families only when scraped, so the hot path pays next to nothing for them. Gauges
of the rooms (queue length, wait estimate) come from a snapshot of the rooms taken by the
scrape itself, and so do the admissions: the room counts every one, by a tick or at once on a
join (a resumed place included), which no tick report sees.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from pyqueue._core import RoomInfo, TickReport
from pyqueue.backends import ClockStatus
from pyqueue.background import TaskHealth

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class RoomSnapshot:
    info: RoomInfo
    max_active: int


class Metrics(Collector):
    """The server's counters; also the collector that exposes them."""

    def __init__(self) -> None:
        #: (route, status) -> count
        self.requests: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.joins: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.holds: defaultdict[str, int] = defaultdict(int)
        self.bookings: defaultdict[str, int] = defaultdict(int)
        self.cancellations: defaultdict[str, int] = defaultdict(int)
        self.token_failures: defaultdict[str, int] = defaultdict(int)
        self.rate_limited = 0
        #: Proof-of-work solutions spent on joins, and refusals by code.
        self.challenges_solved = 0
        self.challenge_refusals: defaultdict[str, int] = defaultdict(int)
        #: Look-ups and cancels by booking code: refused by the rate limit; finding nothing.
        self.code_rate_limited = 0
        self.code_misses: defaultdict[str, int] = defaultdict(int)
        self.ticks: defaultdict[str, dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(_TICK_FIELDS, 0)
        )
        self.tick_errors = 0
        #: room -> Unix time of its last successful tick (of its first failed one, until one
        #: succeeds): how long ago a room last moved, for the "ticker stuck" alert.
        self.last_ticks: dict[str, float] = {}
        #: Whether the backend (Redis, or the memory backend's journal) answered at the scrape;
        #: the label names which backend it is.
        self.backend_kind = "memory"
        self.backend_up = True
        #: Kept by the connection layer (:mod:`pyqueue.server.connections`).
        self.connections_open = 0
        self.connections_refused = 0
        self.header_timeouts = 0
        self.rooms: Mapping[str, RoomSnapshot] = {}
        #: The background tasks and the rooms' clock, as the scrape found them.
        self.tasks: Sequence[TaskHealth] = ()
        self.clock: ClockStatus | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def count_join(self, room: str, new: bool) -> None:
        self.joins[(room, "true" if new else "false")] += 1

    def count_tick(self, room: str, report: TickReport) -> None:
        counts = self.ticks[room]
        for name in _TICK_FIELDS:
            counts[name] += getattr(report, name)
        self.last_ticks[room] = time.time()

    def count_tick_error(self, room: str) -> None:
        self.tick_errors += 1
        # A room that has never ticked here shows its age from its first failure.
        self.last_ticks.setdefault(room, time.time())

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "pyqueue_http_requests", "HTTP requests answered", labels=["route", "status"]
        )
        for (route, status), count in sorted(self.requests.items()):
            requests.add_metric([route, str(status)], count)
        yield requests

        yield _counter(
            "pyqueue_joins", "Joins, by whether a new ticket was made", ["room", "new"], self.joins
        )
        yield _counter("pyqueue_holds", "Slots held", ["room"], _single(self.holds))
        yield _counter("pyqueue_bookings", "Bookings confirmed", ["room"], _single(self.bookings))
        yield _counter(
            "pyqueue_cancellations", "Bookings cancelled", ["room"], _single(self.cancellations)
        )
        yield _counter(
            "pyqueue_token_failures",
            "Refused tokens, by kind of failure",
            ["kind"],
            _single(self.token_failures),
        )
        limited = CounterMetricFamily("pyqueue_rate_limited", "Joins refused by the rate limit")
        limited.add_metric([], self.rate_limited)
        yield limited
        solved = CounterMetricFamily(
            "pyqueue_challenges_solved", "Joins that spent a valid proof-of-work solution"
        )
        solved.add_metric([], self.challenges_solved)
        yield solved
        yield _counter(
            "pyqueue_challenge_refusals",
            "Joins refused for their proof of work (none, or invalid), by code",
            ["code"],
            _single(self.challenge_refusals),
        )
        code_limited = CounterMetricFamily(
            "pyqueue_booking_code_rate_limited",
            "Look-ups and cancels by booking code refused by the per-address limit",
        )
        code_limited.add_metric([], self.code_rate_limited)
        yield code_limited
        yield _counter(
            "pyqueue_booking_code_lookups_failed",
            "Look-ups and cancels by booking code that found no booking",
            ["room"],
            _single(self.code_misses),
        )

        for room in self.rooms:
            # Known rooms show their counters from the start, at zero.
            self.ticks.setdefault(room, dict.fromkeys(_TICK_FIELDS, 0))
        admitted = CounterMetricFamily(
            "pyqueue_admitted",
            "Tickets admitted, by a tick or at once on joining (the room's own count)",
            labels=["room"],
        )
        for room, snapshot in sorted(self.rooms.items()):
            admitted.add_metric([room], snapshot.info.counters.get("admitted", 0))
        yield admitted
        for field, help_text in _TICK_HELP.items():
            family = CounterMetricFamily(f"pyqueue_{field}", help_text, labels=["room"])
            for room, counts in sorted(self.ticks.items()):
                family.add_metric([room], counts[field])
            yield family
        errors = CounterMetricFamily("pyqueue_tick_errors", "Room ticks that raised")
        errors.add_metric([], self.tick_errors)
        yield errors
        last_tick = GaugeMetricFamily(
            "pyqueue_tick_last_success_timestamp_seconds",
            "Unix time of the room's last successful tick in this process (of its first failed"
            " one while none has succeeded)",
            labels=["room"],
        )
        # Only rooms the backend still has: a deleted room's series ends with the room.
        for room, at in sorted(self.last_ticks.items()):
            if room in self.rooms or not self.backend_up:
                last_tick.add_metric([room], at)
        yield last_tick
        backend_up = GaugeMetricFamily(
            "pyqueue_backend_up",
            "1 when the backend (Redis; the memory backend's journal) answered the scrape",
            labels=["backend"],
        )
        backend_up.add_metric([self.backend_kind], 1.0 if self.backend_up else 0.0)
        yield backend_up

        yield from self._connection_metrics()
        yield from self._room_gauges()
        yield from self._task_metrics()

    def _task_metrics(self) -> Iterable[Metric]:
        failures = CounterMetricFamily(
            "pyqueue_background_task_failures",
            "Failed steps of a background task (each is retried with backoff)",
            labels=["task"],
        )
        up = GaugeMetricFamily(
            "pyqueue_background_task_up",
            "1 while a background task is running and its last step succeeded",
            labels=["task"],
        )
        for task in sorted(self.tasks, key=lambda t: t.name):
            failures.add_metric([task.name], task.failures)
            up.add_metric([task.name], 1.0 if task.state == "running" else 0.0)
        yield failures
        yield up
        clock = self.clock
        if clock is not None and clock.offset_seconds is not None:
            offset = GaugeMetricFamily(
                "pyqueue_clock_offset_seconds",
                "This node's clock minus the rooms' time (Redis's), as last measured",
            )
            offset.add_metric([], clock.offset_seconds)
            yield offset

    def _connection_metrics(self) -> Iterable[Metric]:
        open_now = GaugeMetricFamily("pyqueue_http_connections", "Open HTTP connections")
        open_now.add_metric([], self.connections_open)
        yield open_now
        refused = CounterMetricFamily(
            "pyqueue_http_connections_refused",
            "Connections answered 503 because server.max_connections were open",
        )
        refused.add_metric([], self.connections_refused)
        yield refused
        late = CounterMetricFamily(
            "pyqueue_http_header_timeouts",
            "Connections closed because the request head took over server.header_timeout_seconds",
        )
        late.add_metric([], self.header_timeouts)
        yield late

    def _room_gauges(self) -> Iterable[Metric]:
        for name, (help_text, value) in _ROOM_GAUGES.items():
            family = GaugeMetricFamily(name, help_text, labels=["room"])
            for room, snapshot in sorted(self.rooms.items()):
                family.add_metric([room], float(value(snapshot)))
            yield family


_TICK_FIELDS = ("abandoned", "expired", "released", "holds_expired", "offers_made")
#: The counters of tick reports (admissions come from the room's own count: see above).
_TICK_HELP = {
    "abandoned": "Tickets skipped as abandoned (no heartbeat)",
    "expired": "Sessions whose pass expired",
    "released": "Returned slots released at a window",
    "holds_expired": "Holds and offers that ran out",
    "offers_made": "Waiting-list offers made",
}


def _wait_estimate(snapshot: RoomSnapshot) -> float:
    info = snapshot.info
    per_minute = info.measured_per_minute or info.admit_per_minute
    if per_minute <= 0:
        return 0.0
    return max(0.0, info.opens_in_seconds) + info.waiting / (per_minute / 60.0)


def _single(counts: Mapping[str, int]) -> dict[tuple[str, ...], int]:
    return {(k,): v for k, v in counts.items()}


def _counter(
    name: str, help_text: str, labels: list[str], counts: Mapping[Any, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, help_text, labels=labels)
    for key, count in sorted(counts.items()):
        family.add_metric(list(key), count)
    return family


#: The room gauges: each a value of the room, not of this process.
_ROOM_GAUGES: dict[str, tuple[str, Callable[[RoomSnapshot], float]]] = {
    "pyqueue_queue_length": ("Tickets waiting", lambda s: s.info.waiting),
    "pyqueue_active_sessions": ("Admitted sessions", lambda s: s.info.active),
    "pyqueue_max_active": ("Configured session capacity", lambda s: s.max_active),
    "pyqueue_admit_per_minute": (
        "Configured admission rate",
        lambda s: s.info.admit_per_minute,
    ),
    "pyqueue_measured_per_minute": (
        "Measured speed of the admission cursor",
        lambda s: s.info.measured_per_minute,
    ),
    "pyqueue_wait_estimate_seconds": (
        "Estimated wait of a visitor joining now",
        _wait_estimate,
    ),
    "pyqueue_free_slots": (
        "Free slots over all groups",
        lambda s: sum(g.free for g in s.info.availability),
    ),
    "pyqueue_room_open": ("1 when the room admits", lambda s: s.info.state == "open"),
}

#: Series that are the room's own values, not this process's: on Redis every process shows the
#: same value, so a dashboard takes their ``max`` over processes (a ``sum`` would count each
#: room once per process).
ROOM_WIDE_METRICS: Final = frozenset({*_ROOM_GAUGES, "pyqueue_admitted_total"})
