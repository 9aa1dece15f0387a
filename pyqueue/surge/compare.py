"""The report's figures (``[figures]`` of a scenario, full scale) next to what a replay achieved.

Two kinds of figure. A bar the server must reach is absolute and measured in real time: the
requests per second of the busiest real second, and the booking capacity per hour (see
:mod:`pyqueue.surge.capacity`). A figure of the event (requests, slots, bookings) is scaled like
the crowd and compared with the replay's count in virtual time; it is "met" when the replay is
at least as large, i.e. the replay carried the event's load. Descriptive figures are shown as
they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyqueue.surge.outcome import Run

#: Virtual seconds of Saarland's "first 30 minutes".
FIRST_HALF_HOUR = 1800


@dataclass(frozen=True)
class Comparison:
    figure: str
    report: str
    replayed: str
    #: None where the figure is no bar or load to reach.
    met: bool | None


def _scaled(run: Run, value: float, what: str, replayed: int) -> Comparison:
    target = value * run.scenario.scale
    return Comparison(
        what,
        f"{value:,.0f}",
        f"{replayed:,} (scale {run.scenario.scale:g}: {target:,.0f} to reach)",
        replayed >= round(target),
    )


def compare(run: Run) -> list[Comparison]:
    s = run.scenario
    f = run.figures
    visitors = run.data.visitors
    opens = int(s.opens_at.timestamp())
    comparisons = []
    for key, value in s.figures.items():
        if key == "peak_requests_per_second":
            comparisons.append(
                Comparison(
                    "peak requests per second (real time)",
                    f"{value:,}",
                    f"{f.peak_requests_per_second:,} in the busiest real second "
                    f"(p50 {f.peak_p50_ms:.1f} ms, p99 {f.peak_p99_ms:.1f} ms)",
                    f.peak_requests_per_second >= value,
                )
            )
        elif key == "bookings_per_hour_bar":
            c = run.capacity
            comparisons.append(
                Comparison(
                    "bookings per hour (real time)",
                    f"{value:,}",
                    f"{c.per_hour:,.0f} ({c.bookings:,} hold + confirm in {c.real_seconds:.1f} s)",
                    c.per_hour >= value,
                )
            )
        elif key == "requests_first_30_minutes":
            replayed = sum(
                n
                for t, n in run.data.virtual_second_requests.items()
                if opens <= t < opens + FIRST_HALF_HOUR
            )
            comparisons.append(_scaled(run, value, "requests in the first 30 minutes", replayed))
        elif key == "slots_at_opening":
            replayed = sum(1 for v in visitors if v.code and v.slot and v.slot.startswith("r0-"))
            comparisons.append(_scaled(run, value, "slots of the opening booked", replayed))
        elif key == "booked_by_14_00":
            end = opens + s.duration_seconds
            replayed = sum(1 for v in visitors if v.booked_at is not None and v.booked_at <= end)
            comparisons.append(_scaled(run, value, "booked by 14:00", replayed))
        elif key == "slots":
            comparisons.append(_scaled(run, value, "slots booked", f.bookings_live))
        elif key == "no_show_share":
            cancelled = sum(1 for v in visitors if v.cancelled)
            comparisons.append(
                Comparison(
                    "bookings given back (no-shows)",
                    f"{value:.0%}",
                    f"{cancelled / max(1, f.bookings):.0%} of {f.bookings:,} cancelled; "
                    f"{f.offers_accepted:,} offered to the waiting list and booked",
                    None,
                )
            )
        else:
            shown = f"{value:,}" if isinstance(value, int) else str(value)
            comparisons.append(Comparison(key.replace("_", " "), shown, "-", None))
    return comparisons


def met_cell(comparison: Comparison) -> str:
    return {True: "yes", False: "**no**", None: "-"}[comparison.met]
