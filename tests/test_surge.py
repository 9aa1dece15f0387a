"""The surge driver, end to end on a tiny scenario: the real server process on a virtual clock,
a few hundred simulated visitors, the invariants of the replay and the report files.

No timing is asserted: only what must hold on any machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.surge.metrics import kendall_tau_distance, percentile
from bench.surge.report import write_reports
from bench.surge.run import check, run_scenario
from bench.surge.scenario import load_scenario

pytestmark = pytest.mark.slow

TINY = """
name = "tiny"
title = "A tiny window: 250 visitors, 40 slots"
source = "test"
scale = 1.0
duration_seconds = 420

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
prequeue_share = 0.7
prequeue_seconds = 60
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


def test_a_tiny_surge_keeps_every_invariant(tmp_path: Path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    scenario = load_scenario(path)
    run = run_scenario(scenario, "memory", seed=7)
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
    assert figures.abandoned > 0
    assert figures.offers_accepted > 0  # cancelled slots went to waiting visitors
    assert figures.estimates > 0
    assert not [p for p in check(run) if "estimate" not in p]

    write_reports([run], tmp_path / "results")
    report = (tmp_path / "results" / "surge-tiny.md").read_text()
    assert "Double bookings: **0**" in report
    assert (tmp_path / "results" / "surge.md").read_text().count("| tiny |") == 1
    for plot in ("timeline", "estimates"):
        assert (tmp_path / "results" / f"surge-tiny-{plot}.png").stat().st_size > 1000
