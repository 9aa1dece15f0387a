"""Reports of surge replays: one Markdown file and two PNG plots per run, and ``surge.md``
with the table of all runs.

Plots use matplotlib's Agg backend (no display); times on the x axis are virtual seconds from
the opening.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.surge.compare import compare, met_cell
from bench.surge.metrics import MIN_WAIT_FOR_ERROR, Figures

if TYPE_CHECKING:
    from bench.surge.run import Run


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def run_name(run: Run) -> str:
    return run.scenario.name + ("" if run.backend == "memory" else f"-{run.backend}")


def _route_cell(figures: Figures, route: str) -> str:
    for r in figures.routes:
        if r.route == route:
            return f"{r.p50_ms:.1f} / {r.p99_ms:.1f}"
    return "-"


TABLE_HEADER = (
    "| scenario | backend | scale | real s (load) | visitors | requests | req/s "
    "| peak req/s (p99 ms) | bookings/h (real) | status p50/p99 ms "
    "| join p50/p99 ms | hold p50/p99 ms | confirm p50/p99 ms | bookings | double bookings "
    "| early admissions | Kendall tau | estimate error median / p90 | abandoned "
    "| Redis cmds/request |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)

FIGURES_HEADER = (
    "| scenario | backend | figure | report (full scale) | replayed | met? |\n"
    "|---|---|---|---|---|---|\n"
)


def table_row(run: Run) -> str:
    f = run.figures
    redis = "-" if run.redis_per_request is None else f"{run.redis_per_request:.2f}"
    return (
        f"| {run.scenario.name} | {run.backend} | {run.scenario.scale:g} "
        f"| {f.real_seconds:.1f} ({run.load_average:.1f}) | {f.visitors:,} "
        f"| {f.requests:,} | {f.requests_per_second:,.0f} "
        f"| {f.peak_requests_per_second:,} ({f.peak_p99_ms:.0f}) "
        f"| {run.capacity.per_hour:,.0f} | {_route_cell(f, 'status')} "
        f"| {_route_cell(f, 'join')} | {_route_cell(f, 'hold')} | {_route_cell(f, 'confirm')} "
        f"| {f.bookings:,} | {f.double_bookings} | {f.early_admissions} "
        f"| {f.kendall_tau:.4f} | {_pct(f.estimate_error_median)} / "
        f"{_pct(f.estimate_error_p90)} | {f.abandoned:,} | {redis} |\n"
    )


def figure_rows(run: Run) -> str:
    return "".join(
        f"| {run.scenario.name} | {run.backend} | {c.figure} | {c.report} | {c.replayed} "
        f"| {met_cell(c)} |\n"
        for c in compare(run)
    )


def scenario_report(run: Run, plots: bool) -> str:
    s = run.scenario
    f = run.figures
    c = run.capacity
    name = run_name(run)
    virtual_hours = s.duration_seconds / 3600
    lines = [
        f"# Surge replay: {s.title}\n",
        f"Source: {s.source}. Backend: {run.backend}. Scale: {s.scale:g} of the full event "
        f"(visitors, slots, admission rate and capacity multiplied by it, so waits keep their "
        f"full-scale length). Virtual time: {s.duration_seconds} s from the opening at "
        f"{s.opens_at.isoformat()}, replayed in {f.real_seconds:.1f} s of real time (the "
        f"machine's 1-minute load average then: {run.load_average:.1f} on two cores, the "
        f"replay's own driver and server included).\n",
        "## The report's figures and the replay\n",
        "Bars (requests per second, bookings per hour) are absolute and measured in real "
        "time; the driver shares the machine's two cores with the server, so they are lower "
        "bounds. Counts of the event are scaled like the crowd and counted in virtual time.\n",
        "| figure | report (full scale) | replayed | met? |",
        "|---|---|---|---|",
        *(f"| {x.figure} | {x.report} | {x.replayed} | {met_cell(x)} |" for x in compare(run)),
        "",
        f"- Busiest real second of the replay: {f.peak_requests_per_second:,} visitors' "
        f"requests answered, p50 {f.peak_p50_ms:.1f} ms, p99 {f.peak_p99_ms:.1f} ms (the "
        f"replay's average: {f.requests_per_second:,.0f} req/s).",
        f"- Booking capacity (after the replay, same server, a room of its own): {c.bookings:,} "
        f"visitors admitted beforehand each held a different free slot and confirmed it, "
        f"{c.concurrency} at a time, in {c.real_seconds:.1f} s of real time: "
        f"**{c.per_hour:,.0f} bookings per hour**; hold p50/p99 {c.hold_p50_ms:.1f} / "
        f"{c.hold_p99_ms:.1f} ms, confirm "
        f"{c.confirm_p50_ms:.1f} / {c.confirm_p99_ms:.1f} ms; double bookings "
        f"**{c.double_bookings}**.",
        f"- The scenario's own pace: {f.bookings / virtual_hours:,.0f} bookings per virtual "
        f"hour at scale {s.scale:g} ({f.bookings / virtual_hours / s.scale:,.0f} at full "
        f"scale), set by the crowd and the room's admission rate, not by the server.",
        "",
        "## What a visitor sees\n",
        f"- {f.visitors:,} visitors ({s.crowd.prequeue_share:.0%} in the pre-queue), "
        f"{f.admitted:,} admitted, {f.bookings:,} booked"
        + (f" ({f.offers_accepted:,} through waiting-list offers)" if f.offers_accepted else "")
        + f", {f.bookings_live:,} bookings still live at the end.",
        f"- Wait estimate error |estimated - real| / real, from each visitor's first estimate "
        f"after opening, for real waits of at least {MIN_WAIT_FOR_ERROR:.0f} s "
        f"({f.estimates:,} visitors): median {_pct(f.estimate_error_median)}, "
        f"p90 {_pct(f.estimate_error_p90)}.",
        f"- Reloads that got a different place, and second devices (same identity, no cookie) "
        f"that got the first device's place: {f.place_changes}.",
        f"- Holds lost to someone faster (`slot_taken`, retried with an alternative): "
        f"{f.slot_taken:,}.",
        "",
        "## What an operator sees\n",
        f"- Double bookings: **{f.double_bookings}**. Admissions before opening: "
        f"**{f.early_admissions}**.",
        f"- Fairness: normalised Kendall-tau distance between queue order and admission order "
        f"among {f.ranked:,} visitors admitted after opening who kept polling: "
        f"**{f.kendall_tau:.4f}**.",
        f"- Requests: {f.requests:,} from visitors at {f.requests_per_second:,.0f} req/s "
        f"(the driver and the server share this machine); answers 5xx: {f.server_errors}.",
        f"- Abandoned: {f.abandoned:,}; gave up at the slot list: {f.gave_up:,}; admitted "
        f"after the last slot was gone: {f.no_slot:,}.",
    ]
    if run.redis_per_request is not None:
        lines.append(f"- Redis commands per HTTP request: {run.redis_per_request:.2f}.")
    lines += [
        "",
        "| route | requests | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *(f"| {r.route} | {r.requests:,} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |" for r in f.routes),
        "",
        "Outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(f.outcomes.items())) + ".",
        "",
    ]
    if plots:
        lines += [
            f"![queue, admissions and bookings](surge-{name}-timeline.png)",
            "",
            f"![estimated against real wait](surge-{name}-estimates.png)",
            "",
        ]
    return "\n".join(lines)


def plot_run(run: Run, directory: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = run_name(run)
    timeline = run.data.timeline
    t = [p["t"] for p in timeline]
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.plot(t, [p["waiting"] for p in timeline], label="waiting in the queue")
    axes.plot(t, [p["admitted"] for p in timeline], label="admitted (cumulative)")
    axes.plot(t, [p["booked"] for p in timeline], label="booked (cumulative)")
    axes.axvline(0, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel("virtual seconds from opening")
    axes.set_ylabel("visitors")
    axes.set_title(
        f"{run.scenario.title} ({run.backend}, scale {run.scenario.scale:g})", fontsize=10
    )
    axes.legend()
    figure.tight_layout()
    figure.savefig(directory / f"surge-{name}-timeline.png", dpi=100)
    plt.close(figure)

    real, estimated = [], []
    for v in run.data.visitors:
        if v.estimate is not None and v.estimate_at is not None and v.admitted_at is not None:
            real.append(v.admitted_at - v.estimate_at)
            estimated.append(v.estimate)
    figure, axes = plt.subplots(figsize=(5.5, 5.5))
    axes.scatter(real, estimated, s=4, alpha=0.5)
    top = max([*real, *estimated, 1.0])
    axes.plot([0, top], [0, top], color="grey", linewidth=1, label="estimate = real")
    axes.set_xlabel("real wait (s)")
    axes.set_ylabel("first estimate after opening (s)")
    axes.set_title("estimated against real wait")
    axes.legend()
    figure.tight_layout()
    figure.savefig(directory / f"surge-{name}-estimates.png", dpi=100)
    plt.close(figure)


def write_reports(runs: Sequence[Run], directory: Path, plots: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for run in runs:
        (directory / f"surge-{run_name(run)}.md").write_text(
            scenario_report(run, plots), encoding="utf-8"
        )
        if plots:
            plot_run(run, directory)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        "# Surge replays of the field reports\n\n"
        f"Run {stamp} on this machine (driver and server share its cores). Latencies are "
        "real time per HTTP request as the driver saw them; everything else is in virtual "
        "time. Per scenario: `surge-<scenario>.md`.\n\n" + TABLE_HEADER
    )
    text += "".join(table_row(run) for run in runs)
    text += (
        "\nThe reports' figures against the replays (bars in real time, counts of the event "
        "scaled; see each scenario's report):\n\n" + FIGURES_HEADER
    )
    text += "".join(figure_rows(run) for run in runs)
    (directory / "surge.md").write_text(text, encoding="utf-8")
