"""The surge driver, end to end on tiny scenarios: the real server process on a virtual clock,
a few hundred simulated visitors, the invariants of the replay and the report files; and tiny
versions of the scenarios that judge the wait estimates (a slow booking site, many who abandon,
an operator's pause, an operator's rate change) on memory and Redis.

No timing is asserted: only what must hold on any machine.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pyqueue.surge.compare import compare
from pyqueue.surge.honesty import MIN_WAIT_FOR_ERROR, since
from pyqueue.surge.metrics import kendall_tau_distance
from pyqueue.surge.outcome import Run
from pyqueue.surge.percentile import percentile
from pyqueue.surge.report import write_reports
from pyqueue.surge.run import MIN_JUDGED, add_arguments, check, run_cli, run_scenario
from pyqueue.surge.scenario import OperatorAction, load_scenario, scenario_path
from tests.redis_support import needs_redis

pytestmark = pytest.mark.slow

TINY = """
name = "tiny"
title = "A tiny window: 250 visitors, 40 slots"
source = "test"
scale = 1.0
duration_seconds = 420

[figures]
peak_requests_per_second = 1100
bookings_per_hour_bar = 300000
slots = 40

[room]
opens_at = 2021-05-10T07:00:00+02:00
admit_per_minute = 60
max_active = 100
session_seconds = 300
heartbeat_timeout_seconds = 45
returned_slots = "waitlist"
offer_seconds = 60
timezone = "Europe/Berlin"

[crowd]
visitors = 250
prequeue_share = 0.6
prequeue_seconds = 60
steady_share = 0.1
arrival_seconds = 120
abandon_share = 0.1
reload_share = 0.2
second_device_share = 0.2
give_up_share = 0.05
cancel_share = 0.3
cancel_after_seconds = [10, 60]
think_seconds = [2, 10]

[slots]
groups = 3
releases = [{ after_seconds = 0, count = 40 }]
"""


def test_kendall_tau_distance_counts_discordant_pairs():
    assert kendall_tau_distance([1, 2, 3, 4]) == 0
    assert kendall_tau_distance([4, 3, 2, 1]) == 1
    assert kendall_tau_distance([1, 1, 2, 2]) == 0  # ties in admission time are no disorder
    assert kendall_tau_distance([2, 1, 3, 4]) == pytest.approx(1 / 6)


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) == 0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile(list(map(float, range(1, 101))), 0.99) == 99.0


def test_scaled_releases_add_up_to_the_scaled_total(tmp_path: Path):
    path = tmp_path / "tiny.toml"
    path.write_text(
        TINY.replace(
            "releases = [{ after_seconds = 0, count = 40 }]",
            "releases = [{ after_seconds = 0, count = 1500 }, "
            + ", ".join(f"{{ after_seconds = {k * 30}, count = 661 }}" for k in range(1, 9))
            + "]",
        )
    )
    scenario = load_scenario(path, scale=0.03)
    # 6,788 slots at 0.03: 203.64, so 204, although every batch of 661 alone rounds to 20.
    assert scenario.total_slots == 204
    assert scenario.releases[0].count == 45


def test_a_tiny_surge_keeps_every_invariant(tmp_path: Path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    scenario = load_scenario(path)
    run = run_scenario(scenario, "memory", seed=7, capacity_bookings=300)
    figures = run.figures

    assert figures.visitors == 250
    assert figures.double_bookings == 0
    assert figures.early_admissions == 0
    assert figures.kendall_tau == 0
    assert figures.ranked > 50
    assert figures.place_changes == 0
    assert figures.server_errors == 0
    assert figures.bookings > 0
    assert figures.bookings_live <= 40
    # Every booking code was looked up again (none refused by the per-address limit on codes):
    # the live ones are those not cancelled, so the double-booking count rests on all of them.
    cancelled = sum(1 for v in run.data.visitors if v.cancelled)
    assert figures.bookings_live == figures.bookings - cancelled
    assert 429 not in run.data.statuses.get("booking", {})
    assert figures.abandoned > 0
    assert figures.offers_accepted > 0  # cancelled slots went to waiting visitors
    assert figures.estimates > 0
    assert not [p for p in check(run) if "estimate" not in p]

    # The rule on estimates judges what visitors read: the range while measuring, the figure
    # once known.
    def judged(count: int) -> Run:
        honesty = figures.honesty
        known_error = replace(honesty.known.absolute, median=0.2)
        honesty = replace(
            honesty,
            first=replace(honesty.first, count=count, inside=0.5),
            known=replace(honesty.known, count=count, absolute=known_error),
        )
        return replace(run, figures=replace(figures, honesty=honesty))

    assert [p for p in check(judged(MIN_JUDGED)) if "estimate" in p] == [
        "the first estimate's range held 50.0% of the real waits",
        "median error of the known estimates 20.0%",
    ]
    # A handful of visitors judged says nothing: the rules wait for enough of them.
    assert [p for p in check(judged(MIN_JUDGED - 1)) if "estimate" in p] == []

    # The busiest real second of the replay, and the booking-capacity phase on the same server:
    # every admitted visitor of it booked its own slot, none twice.
    assert 0 < figures.peak_requests_per_second <= figures.requests
    assert run.capacity.bookings == 300
    assert run.capacity.double_bookings == 0
    assert run.capacity.per_hour > 0
    comparisons = {c.figure: c for c in compare(run)}
    assert set(comparisons) == {
        "peak requests per second (real time)",
        "bookings per hour (real time)",
        "slots booked",
    }
    assert all(c.met is not None for c in comparisons.values())

    write_reports([run], tmp_path / "results")
    report = (tmp_path / "results" / "surge-tiny.md").read_text()
    assert "Double bookings: **0**" in report
    assert "| bookings per hour (real time) | 300,000 |" in report
    # One row in the table of runs and one in that of the estimates, one per figure in the table
    # of the reports' figures.
    summary = (tmp_path / "results" / "surge.md").read_text()
    assert summary.count("| tiny |") == 2 + len(comparisons)
    for plot in ("timeline", "estimates"):
        assert (tmp_path / "results" / f"surge-tiny-{plot}.png").stat().st_size > 1000


def surge(*argv: str) -> int:
    """``pyqueue bench surge ARGV`` in this process (without its SIGTERM handler)."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


def test_an_unknown_scenario_is_refused_with_the_shipped_names(capsys: pytest.CaptureFixture[str]):
    assert surge("lower-saxon") == 2
    error = capsys.readouterr().err
    assert "no scenario named 'lower-saxon'" in error
    assert (
        "lower-saxony, saarland-abandon, saarland-pause, saarland-rate-change, "
        "saarland-slow-booking, saarland, saxony, schleswig-holstein" in error
    )


def test_a_broken_scenario_file_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "broken.toml"
    path.write_text(TINY.replace("[crowd]\nvisitors = 250\n", "[crowd]\n"))
    assert surge(str(path)) == 2
    assert f"{path}: the setting 'visitors' is missing" in capsys.readouterr().err


def test_without_matplotlib_a_run_writes_markdown_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # As in an installation without the `surge` extra: importing matplotlib fails.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    output = tmp_path / "results"
    # 50 visitors: too few for the estimate's rule (exit 1), enough for a report.
    surge(str(path), "--scale", "0.2", "--capacity-bookings", "20", "--output", str(output))
    printed = capsys.readouterr()
    assert "the plots need matplotlib (pip install 'pyqueue[surge]')" in printed.err
    assert "tiny [memory, scale 0.2]: 50 visitors" in printed.out
    assert (output / "surge-tiny.md").is_file()
    assert not list(output.glob("*.png"))


# ----- the scenarios that judge the wait estimates --------------------------------------------

#: A tiny line of ``visitors``, most of them in the pre-queue, with slots for all; the cases fill
#: in the room's rate and capacity and what is special to them.
TINY_LINE = """
name = "{name}"
title = "A tiny line: {name}"
source = "test"
scale = 1.0
duration_seconds = {duration}

[room]
opens_at = 2021-11-26T10:00:00+01:00
admit_per_minute = {rate}
max_active = {max_active}
session_seconds = 300
heartbeat_timeout_seconds = 20
hold_seconds = 300
timezone = "Europe/Berlin"

[crowd]
visitors = {visitors}
prequeue_share = 0.8
prequeue_seconds = 30
steady_share = 0.0
arrival_seconds = 60
abandon_share = {abandon}
abandon_after_seconds = [5, 60]
reload_share = 0.0
second_device_share = 0.0
give_up_share = 0.0
think_seconds = [2, 5]
{extra}

[slots]
groups = 2
releases = [{{ after_seconds = 0, count = {visitors} }}]
"""

LINES = {
    # 6 sessions of 5-10 s at once: about 0.8 admissions a second against a rate of 2. Enough
    # visitors that the places turn over often enough for the estimate to become known.
    "slow-booking": {
        "duration": 500,
        "rate": 120,
        "max_active": 6,
        "visitors": 150,
        "abandon": 0.0,
        "extra": "booking_seconds = [5, 10]",
    },
    "abandon": {
        "duration": 400,
        "rate": 30,
        "max_active": 100,
        "visitors": 80,
        "abandon": 0.4,
        "extra": "",
    },
    "pause": {
        "duration": 400,
        "rate": 60,
        "max_active": 100,
        "visitors": 100,
        "abandon": 0.0,
        "extra": '[[actions]]\nafter_seconds = 20\naction = "pause"\n'
        '[[actions]]\nafter_seconds = 80\naction = "resume"',
    },
    "rate-change": {
        "duration": 400,
        "rate": 120,
        "max_active": 100,
        "visitors": 100,
        "abandon": 0.0,
        "extra": '[[actions]]\nafter_seconds = 20\naction = "rate"\nadmit_per_minute = 30',
    },
}


def replay_line(tmp_path: Path, name: str, backend: str) -> Run:
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY_LINE.format(name=name, **LINES[name]))
    return run_scenario(load_scenario(path), backend, seed=3, capacity_bookings=1)


def admissions(run: Run, start: float, end: float) -> int:
    """Visitors admitted from ``start`` to before ``end`` seconds after opening."""
    opens = run.data.opens_at
    return sum(
        1
        for v in run.data.visitors
        if v.admitted_at is not None and opens + start <= v.admitted_at < opens + end
    )


def assert_judged_from_real_estimates(run: Run) -> None:
    """The honesty figures count exactly the admitted visitors who saw an estimate from the
    judged instant on and then waited long enough to judge, and every kind was measured."""
    h = run.figures.honesty
    judged_from = run.data.judged_from
    expected = 0
    for v in run.data.visitors:
        shown = since(v.estimates, judged_from)
        if v.admitted_at is not None and shown and v.admitted_at - shown[0].at >= 30:
            expected += 1
    assert MIN_WAIT_FOR_ERROR == 30
    assert h.first.count == expected > 10
    assert 0 < h.known.count <= h.first.count
    assert 0 < h.half.count <= h.first.count
    for judged in (h.first, h.known, h.half):
        assert judged.inside is not None
        assert judged.width is not None
        assert judged.width >= 1
    assert h.known_after_seconds is not None
    assert h.judged_after_seconds == run.scenario.judged_after_seconds
    assert run.figures.estimate_error_median == h.first.absolute.median


def assert_replay_invariants(run: Run) -> None:
    f = run.figures
    assert f.double_bookings == 0
    assert f.early_admissions == 0
    assert f.kendall_tau == 0
    assert f.server_errors == 0
    assert f.place_changes == 0
    assert all(a.status == 200 for a in run.data.actions)


BACKENDS = ["memory", pytest.param("redis", marks=[pytest.mark.redis, needs_redis])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_behind_a_slow_booking_site_capacity_limits_the_line(tmp_path: Path, backend: str):
    run = replay_line(tmp_path, "slow-booking", backend)
    assert_replay_invariants(run)
    booked = [v for v in run.data.visitors if v.booked_at is not None]
    assert len(booked) > 120
    for v in booked:
        # Each booked the drawn time after admission, and its session ended with the booking.
        assert v.booking_seconds is not None
        assert 5 <= v.booking_seconds <= 10
        assert v.admitted_at is not None
        assert v.booked_at - v.admitted_at >= v.booking_seconds
    # The six sessions were all in use while people waited, never more, and the line moved
    # slower than the rate (120 in 60 s): in the first minute at most 6 + 6 * 60 / 5.
    timeline = run.data.timeline
    assert any(p["active"] == 6 and p["waiting"] > 0 for p in timeline)
    assert max(p["active"] for p in timeline) <= 6
    assert admissions(run, 0, 60) <= 78
    assert_judged_from_real_estimates(run)


@pytest.mark.parametrize("backend", BACKENDS)
def test_when_many_abandon_the_cursor_skips_them(tmp_path: Path, backend: str):
    run = replay_line(tmp_path, "abandon", backend)
    assert_replay_invariants(run)
    assert run.figures.abandoned >= 20
    # The server skipped places of those who stopped polling (its own count).
    assert run.data.counters["abandoned"] > 0
    assert_judged_from_real_estimates(run)


@pytest.mark.parametrize("backend", BACKENDS)
def test_during_the_operators_pause_nobody_is_admitted(tmp_path: Path, backend: str):
    run = replay_line(tmp_path, "pause", backend)
    assert_replay_invariants(run)
    opens = run.data.opens_at
    assert [(a.at - opens, a.action) for a in run.data.actions] == [
        (20, "pause"),
        (80, "resume"),
    ]
    # Admissions before the pause and after it, none in between, while people waited.
    assert admissions(run, 0, 21) > 0
    assert admissions(run, 21, 80) == 0
    assert admissions(run, 80, 400) > 0
    assert all(p["waiting"] > 0 for p in run.data.timeline if 20 < p["t"] < 80)
    # Judged only on what was shown from the resume on.
    assert run.data.judged_from == opens + 80
    assert_judged_from_real_estimates(run)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_operators_rate_change_slows_the_line(tmp_path: Path, backend: str):
    run = replay_line(tmp_path, "rate-change", backend)
    assert_replay_invariants(run)
    assert [(a.at - run.data.opens_at, a.action) for a in run.data.actions] == [(20, "rate")]
    # Two a second before the change (30 in 15 s), one every two seconds after it (7 or 8 in
    # 15 s, one banked).
    assert admissions(run, 5, 20) >= 20
    assert admissions(run, 25, 40) <= 10
    assert run.data.judged_from == run.data.opens_at + 20
    assert_judged_from_real_estimates(run)


def test_the_shipped_scenarios_express_slow_sites_abandonment_and_operator_actions():
    slow = load_scenario(scenario_path("saarland-slow-booking"))
    assert slow.crowd.booking_seconds == (60, 300)
    assert slow.judged_after_seconds == 0
    abandon = load_scenario(scenario_path("saarland-abandon"))
    assert abandon.crowd.abandon_share == 0.33
    assert abandon.crowd.abandon_after_seconds == (30, 600)
    pause = load_scenario(scenario_path("saarland-pause"))
    assert pause.actions == (OperatorAction(600, "pause"), OperatorAction(900, "resume"))
    assert pause.judged_after_seconds == 900
    # The new rate is scaled like the room's: 300 a minute at 0.1.
    rate = load_scenario(scenario_path("saarland-rate-change"))
    assert rate.actions == (OperatorAction(300, "rate", 30.0),)
    assert rate.room["admit_per_minute"] == 60.0


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ('action = "stop"', "unknown action 'stop' (one of pause, resume, rate)"),
        ('action = "rate"\nadmit_per_minute = 0', "admit_per_minute must be above 0, not 0.0"),
        ('action = "rate"', "the setting 'admit_per_minute' is missing"),
    ],
)
def test_a_broken_operator_action_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str, message: str
):
    path = tmp_path / "broken.toml"
    extra = f"[[actions]]\nafter_seconds = 20\n{action}"
    path.write_text(TINY_LINE.format(name="broken", **{**LINES["pause"], "extra": extra}))
    assert surge(str(path)) == 2
    error = capsys.readouterr().err
    assert f"{path}: " in error
    assert message in error


def test_an_action_after_the_replays_end_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "late.toml"
    extra = '[[actions]]\nafter_seconds = 400\naction = "pause"'
    path.write_text(TINY_LINE.format(name="late", **{**LINES["pause"], "extra": extra}))
    assert surge(str(path)) == 2
    assert "an action at 400 s is not before duration_seconds (400)" in capsys.readouterr().err
