"""The surge driver, end to end on a tiny scenario: the real server process on a virtual clock,
a few hundred simulated visitors, the invariants of the replay and the report files.

No timing is asserted: only what must hold on any machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from pyqueue.surge.compare import compare
from pyqueue.surge.metrics import kendall_tau_distance, percentile
from pyqueue.surge.report import write_reports
from pyqueue.surge.run import add_arguments, check, run_cli, run_scenario
from pyqueue.surge.scenario import load_scenario

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
    # One row in the table of runs, one per figure in the table of the reports' figures.
    summary = (tmp_path / "results" / "surge.md").read_text()
    assert summary.count("| tiny |") == 1 + len(comparisons)
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
    assert "lower-saxony, saarland, saxony, schleswig-holstein" in error


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
