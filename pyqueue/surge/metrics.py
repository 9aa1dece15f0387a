"""From what a replay observed to the figures of its report.

Fairness is the normalised Kendall-tau distance between the queue order and the admission
order (0: the same order; 1: reversed). The queue order is rebuilt from the server's recorded
draw: ``pyqueue.draw_order(n, seed)`` gives the pre-queue's order over the join order (ticket
ids rise with joins), and joins after opening follow in ticket order. Admission times come from
each pass's issue time, so they are exact to the tick; visitors admitted in the same tick are
tied and count as neither in nor out of order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyqueue
from pyqueue.surge.driver import RunData, Visitor
from pyqueue.surge.honesty import Honesty, honesty
from pyqueue.surge.percentile import percentile


@dataclass(frozen=True)
class RouteFigures:
    route: str
    requests: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Figures:
    visitors: int
    requests: int
    real_seconds: float
    requests_per_second: float
    #: The busiest real second of the replay: visitors' requests answered in it, and their
    #: latencies.
    peak_requests_per_second: int
    peak_p50_ms: float
    peak_p99_ms: float
    routes: list[RouteFigures]
    admitted: int
    bookings: int
    bookings_live: int
    offers_accepted: int
    double_bookings: int
    early_admissions: int
    kendall_tau: float
    ranked: int
    #: |estimated - real| / real of each visitor's first estimate (see honesty.first).
    estimate_error_median: float | None
    estimate_error_p90: float | None
    estimates: int
    abandoned: int
    gave_up: int
    no_slot: int
    place_changes: int
    slot_taken: int
    server_errors: int
    outcomes: dict[str, int]
    honesty: Honesty


def kendall_tau_distance(ranks: list[float]) -> float:
    """Discordant pairs / all pairs of a sequence given in queue order (ties are concordant).

    Counts strict inversions by merge sort: O(n log n), fine for a million visitors."""
    n = len(ranks)
    if n < 2:
        return 0.0

    def sort(values: list[float]) -> tuple[list[float], int]:
        if len(values) <= 1:
            return values, 0
        middle = len(values) // 2
        left, a = sort(values[:middle])
        right, b = sort(values[middle:])
        merged: list[float] = []
        inversions = a + b
        i = j = 0
        while i < len(left) and j < len(right):
            if right[j] < left[i]:
                # Every left value still to merge is later in the queue's order's opposite.
                inversions += len(left) - i
                merged.append(right[j])
                j += 1
            else:
                merged.append(left[i])
                i += 1
        merged += left[i:]
        merged += right[j:]
        return merged, inversions

    _, inversions = sort(list(ranks))
    return inversions / (n * (n - 1) / 2)


def queue_order(visitors: list[Visitor], draw: dict[str, Any] | None) -> dict[int, int]:
    """Ticket id -> place in the queue: the drawn pre-queue first, then later joins by id.
    Second devices' places count too: they were drawn and queued like every other."""
    joined = [(v.ticket_id, v.first_state) for v in visitors]
    joined += [(v.second_ticket_id, v.second_first_state) for v in visitors]
    tickets = sorted({t for t, _ in joined if t is not None})
    pre = sorted({t for t, state in joined if state == "prequeue" and t is not None})
    if draw is not None and draw.get("mode") == "shuffle" and pre:
        if draw["size"] != len(pre):
            raise ValueError(f"the draw has {draw['size']} tickets, the crowd {len(pre)}")
        order = [pre[k] for k in pyqueue.draw_order(len(pre), int(draw["seed"]))]
    else:
        order = list(pre)
    placed = set(order)
    order += [t for t in tickets if t not in placed]
    return {ticket: place for place, ticket in enumerate(order)}


def fairness(data: RunData) -> tuple[float, int]:
    """Kendall-tau distance among those admitted after opening who kept polling."""
    places = queue_order(data.visitors, data.draw)
    ranked = [
        (places[v.ticket_id], v.admitted_at)
        for v in data.visitors
        if v.admitted_at is not None
        and v.ticket_id is not None
        and v.abandon_at is None
        and v.admitted_at >= data.opens_at
    ]
    ranked.sort()
    return kendall_tau_distance([t for _, t in ranked]), len(ranked)


def summarise(data: RunData) -> Figures:
    routes = [
        RouteFigures(
            route,
            len(values),
            percentile(values, 0.5) * 1000,
            percentile(values, 0.99) * 1000,
        )
        for route, values in sorted(data.latencies.items())
    ]
    visitor_routes = [r for r in routes if not r.route.startswith("admin")]
    requests = sum(r.requests for r in visitor_routes)
    outcomes: dict[str, int] = {}
    for v in data.visitors:
        outcomes[v.outcome] = outcomes.get(v.outcome, 0) + 1
    tau, ranked = fairness(data)
    peak = max(data.real_second_latencies.values(), key=len, default=[])
    judged = honesty(data.visitors, data.opens_at, data.judged_from)
    server_errors = sum(
        count for codes in data.statuses.values() for code, count in codes.items() if code >= 500
    )
    return Figures(
        visitors=len(data.visitors),
        requests=requests,
        real_seconds=data.real_seconds,
        requests_per_second=requests / data.real_seconds if data.real_seconds else 0.0,
        peak_requests_per_second=len(peak),
        peak_p50_ms=percentile(peak, 0.5) * 1000,
        peak_p99_ms=percentile(peak, 0.99) * 1000,
        routes=routes,
        admitted=sum(1 for v in data.visitors if v.admitted_at is not None),
        bookings=sum(1 for v in data.visitors if v.code is not None),
        bookings_live=sum(data.live_codes_by_slot.values()),
        offers_accepted=data.offers_accepted,
        double_bookings=sum(1 for n in data.live_codes_by_slot.values() if n > 1),
        early_admissions=data.early_admissions,
        kendall_tau=tau,
        ranked=ranked,
        estimate_error_median=judged.first.absolute.median,
        estimate_error_p90=judged.first.absolute.p90,
        estimates=judged.first.count,
        abandoned=sum(1 for v in data.visitors if v.outcome == "abandoned"),
        gave_up=outcomes.get("gave up", 0),
        no_slot=outcomes.get("no slot", 0),
        place_changes=sum(v.place_changes for v in data.visitors),
        slot_taken=data.slot_taken,
        server_errors=server_errors,
        outcomes=outcomes,
        honesty=judged,
    )
