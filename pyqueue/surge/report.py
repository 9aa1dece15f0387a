"""Reports of surge replays: one Markdown file and two PNG plots per run, and ``surge.md``
with the tables of all runs (load and fairness; the honesty of the wait estimates).

Plots use matplotlib's Agg backend (no display); times on the x axis are virtual seconds from
the opening. matplotlib is optional (the ``surge`` extra): it is imported only to plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pyqueue.surge.compare import compare, met_cell
from pyqueue.surge.honesty import (
    AIM_INSIDE,
    AIM_KNOWN_AFTER_SECONDS,
    AIM_KNOWN_ERROR_MEDIAN,
    AIM_KNOWN_ERROR_P90,
    AIM_KNOWN_WIDTH,
    MIN_WAIT_FOR_ERROR,
    Judged,
    Spread,
    aims_missed,
    first_estimate,
    since,
)
from pyqueue.surge.metrics import Figures
from pyqueue.surge.outcome import Run


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _signed_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _spread(spread: Spread, signed: bool = False) -> str:
    cell = _signed_pct if signed else _pct
    return f"{cell(spread.p10)} / {cell(spread.median)} / {cell(spread.p90)}"


def _width(value: float | None) -> str:
    if value is None:
        return "-"
    return "∞" if value == float("inf") else f"{value:.2f}"


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f}"


def _reasons(judged: Judged) -> str:
    if not judged.reasons:
        return "-"
    return ", ".join(f"{k} {v:,}" for k, v in sorted(judged.reasons.items()))


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


HONESTY_HEADER = (
    "| scenario | backend | judged from s | first: visitors | first: real wait inside "
    f"[low, high] (aim ≥ {AIM_INSIDE:.0%}) | first: signed error p10 / median / p90 "
    "| first: abs error median / p90 | first: high/low median | known: visitors "
    f"| known: high/low median (aim ≤ {AIM_KNOWN_WIDTH:g}) | known: abs error median / p90 "
    f"(aim ≤ {AIM_KNOWN_ERROR_MEDIAN:.0%} / ≤ {AIM_KNOWN_ERROR_P90:.0%}) "
    "| known: inside | half wait: abs error median / p90 "
    f"| known after s (aim ≤ {AIM_KNOWN_AFTER_SECONDS:.0f}) | reasons (first) | aims missed |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def honesty_row(run: Run) -> str:
    h = run.figures.honesty
    first, known, half = h.first, h.known, h.half
    return (
        f"| {run.scenario.name} | {run.backend} | {h.judged_after_seconds:.0f} "
        f"| {first.count:,} | {_pct(first.inside)} | {_spread(first.signed, signed=True)} "
        f"| {_pct(first.absolute.median)} / {_pct(first.absolute.p90)} | {_width(first.width)} "
        f"| {known.count:,} | {_width(known.width)} "
        f"| {_pct(known.absolute.median)} / {_pct(known.absolute.p90)} | {_pct(known.inside)} "
        f"| {_pct(half.absolute.median)} / {_pct(half.absolute.p90)} "
        f"| {_seconds(h.known_after_seconds)} | {_reasons(first)} "
        f"| {len(aims_missed(h))} of 5 |\n"
    )


def honesty_section(run: Run) -> list[str]:
    """The per-scenario report's account of the wait estimates."""
    h = run.figures.honesty
    judged = (
        "the opening"
        if not run.scenario.actions
        else f"the last operator action ({h.judged_after_seconds:.0f} s after the opening)"
    )
    missed = aims_missed(h)
    return [
        "## How honest the wait estimates were\n",
        f"Each admitted visitor's estimates from {judged} on, against the wait that really "
        f"followed them (real waits of at least {MIN_WAIT_FOR_ERROR:.0f} s). Signed error: "
        "(estimated - real) / real.\n",
        "| estimate | visitors | signed error p10 / median / p90 | abs error p10 / median / p90 "
        "| real wait inside [low, high] | high/low median | reasons |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {label} | {j.count:,} | {_spread(j.signed, signed=True)} "
            f"| {_spread(j.absolute)} | {_pct(j.inside)} | {_width(j.width)} | {_reasons(j)} |"
            for label, j in (
                ("first", h.first),
                ("first marked known", h.known),
                ("at half the real wait", h.half),
            )
        ),
        "",
        f"- The first estimate marked `known` came {_seconds(h.known_after_seconds)} s after "
        f"{judged}.",
        f"- Aims (≥ {AIM_INSIDE:.0%} inside the first range; known: high/low ≤ "
        f"{AIM_KNOWN_WIDTH:g}, median error ≤ {AIM_KNOWN_ERROR_MEDIAN:.0%}, p90 ≤ "
        f"{AIM_KNOWN_ERROR_P90:.0%}; known within {AIM_KNOWN_AFTER_SECONDS:.0f} s): "
        + ("all met." if not missed else "missed: " + "; ".join(missed) + "."),
        "",
    ]


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
        f"(see below), for real waits of at least {MIN_WAIT_FOR_ERROR:.0f} s "
        f"({f.estimates:,} visitors): median {_pct(f.estimate_error_median)}, "
        f"p90 {_pct(f.estimate_error_p90)}.",
        f"- Reloads that got a different place, and second devices (same identity, no cookie) "
        f"that got the first device's place: {f.place_changes}.",
        f"- Holds lost to someone faster (`slot_taken`, retried with an alternative): "
        f"{f.slot_taken:,}.",
        "",
        *honesty_section(run),
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


def plots_available() -> bool:
    """Whether matplotlib can be imported (``pip install 'pyqueue[surge]'``)."""
    try:
        import matplotlib  # noqa: F401 - imported to see whether it can be
    except ImportError:
        return False
    return True


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
        first = first_estimate(since(v.estimates, run.data.judged_from))
        if first is not None and v.admitted_at is not None:
            real.append(v.admitted_at - first.at)
            estimated.append(first.seconds)
    figure, axes = plt.subplots(figsize=(5.5, 5.5))
    axes.scatter(real, estimated, s=4, alpha=0.5)
    top = max([*real, *estimated, 1.0])
    axes.plot([0, top], [0, top], color="grey", linewidth=1, label="estimate = real")
    axes.set_xlabel("real wait (s)")
    axes.set_ylabel("first estimate judged (s)")
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
    text += (
        "\nHow honest the wait estimates were: each admitted visitor's first estimate, the "
        "first marked `known` and the one at half the real wait, against the real wait "
        f"(waits of at least {MIN_WAIT_FOR_ERROR:.0f} s; judged from the opening, or from the "
        "last operator action; see each scenario's report):\n\n" + HONESTY_HEADER
    )
    text += "".join(honesty_row(run) for run in runs)
    (directory / "surge.md").write_text(text, encoding="utf-8")
