"""Runs surge scenarios against the real server, each followed by the booking-capacity phase
on the same server (:mod:`pyqueue.surge.capacity`), and writes their reports.

``pyqueue bench surge [SCENARIO ...] [--backend memory|redis|both] [--scale X]`` (or
``python -m pyqueue.surge …``). Reports go to ``--output`` (default ``surge-results/`` in the
current directory): ``surge-<scenario>[-redis].md``, PNG plots beside them (with matplotlib,
the ``surge`` extra), and ``surge.md`` with the table of every run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import uvloop

from pyqueue.surge.capacity import BOOKINGS, measure_booking_capacity
from pyqueue.surge.driver import Driver
from pyqueue.surge.honesty import AIM_INSIDE
from pyqueue.surge.metrics import summarise
from pyqueue.surge.outcome import Run
from pyqueue.surge.redis_process import redis_available, redis_commands, redis_server
from pyqueue.surge.report import plots_available, write_reports
from pyqueue.surge.scenario import (
    Scenario,
    ScenarioError,
    all_scenarios,
    load_scenario,
    scenario_path,
)
from pyqueue.surge.servers import pyqueue_server

#: Relative to the current directory: an installed package has no place of its own to write.
RESULTS = Path("surge-results")


def run_scenario(
    scenario: Scenario, backend: str = "memory", seed: int = 1, capacity_bookings: int = BOOKINGS
) -> Run:
    """One replay on a fresh server (and Redis), then the booking-capacity phase on it."""
    with ExitStack() as stack:
        port = stack.enter_context(redis_server()) if backend == "redis" else None
        url = "memory" if port is None else f"redis://127.0.0.1:{port}/0"
        server = stack.enter_context(pyqueue_server(scenario, url, capacity_bookings))
        before = 0 if port is None else redis_commands(port)
        data = uvloop.run(Driver(scenario, server.base_url, seed).run())
        load_average = os.getloadavg()[0]
        used = 0 if port is None else redis_commands(port) - before
        capacity = uvloop.run(
            measure_booking_capacity(server.base_url, scenario, capacity_bookings)
        )
    all_requests = sum(len(v) for v in data.latencies.values())
    per_request = None if port is None else used / max(1, all_requests)
    return Run(scenario, backend, data, summarise(data), capacity, per_request, load_average)


#: The known estimates' median error a replay may not reach (the aim is 10 %; this is the rule).
KNOWN_ERROR_LIMIT = 0.15
#: Fewer visitors judged than this, and the rules on estimates do not judge.
MIN_JUDGED = 30


def check(run: Run) -> list[str]:
    """The acceptance rules a replay must meet; empty when all hold."""
    f = run.figures
    problems = []
    if f.double_bookings:
        problems.append(f"{f.double_bookings} double bookings")
    if f.early_admissions:
        problems.append(f"{f.early_admissions} admissions before opening")
    if f.kendall_tau != 0:
        problems.append(f"Kendall tau {f.kendall_tau:.6f} after opening")
    # The estimates as visitors read them: a first estimate still measuring shows its range, not
    # its point, so the range must hold the wait; one marked known shows a figure.
    # A share or a median of a handful of visitors says nothing (tiny replays judge a few).
    first, known = f.honesty.first, f.honesty.known
    if first.count >= MIN_JUDGED and first.inside is not None and first.inside < AIM_INSIDE:
        problems.append(f"the first estimate's range held {first.inside:.1%} of the real waits")
    median = known.absolute.median
    if known.count >= MIN_JUDGED and median is not None and median >= KNOWN_ERROR_LIMIT:
        problems.append(f"median error of the known estimates {median:.1%}")
    if f.place_changes:
        problems.append(
            f"{f.place_changes} reloads got another place or second devices the first one's"
        )
    if f.server_errors:
        problems.append(f"{f.server_errors} answers 5xx")
    if run.capacity.double_bookings:
        problems.append(f"{run.capacity.double_bookings} double bookings in the capacity phase")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    # A stopped run still stops its server and Redis (their context managers' exits).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        prog="pyqueue bench surge", description="Replays the field reports against the server."
    )
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(path.stem for path in all_scenarios())
    parser.add_argument(
        "scenarios", nargs="*", help=f"names ({names}) or .toml files (default: all)"
    )
    parser.add_argument("--backend", choices=["memory", "redis", "both"], default="memory")
    parser.add_argument("--scale", type=float, help="override the scenarios' scale (0, 1]")
    parser.add_argument("--seed", type=int, default=1, help="the crowd's random seed")
    parser.add_argument(
        "--capacity-bookings",
        type=int,
        default=BOOKINGS,
        metavar="N",
        help=f"bookings of the booking-capacity phase after each replay (default {BOOKINGS:,})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS,
        help=f"the report directory (default: {RESULTS}/ in the current directory)",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="Markdown only (plots need matplotlib)"
    )


def run_cli(args: argparse.Namespace) -> int:
    try:
        paths = [scenario_path(n) for n in args.scenarios] or all_scenarios()
        scenarios = [load_scenario(path, args.scale) for path in paths]
    except ScenarioError as exc:
        print(f"surge: {exc}", file=sys.stderr)
        return 2
    if args.capacity_bookings < 1:
        print("surge: --capacity-bookings must be at least 1", file=sys.stderr)
        return 2
    plots = not args.no_plots
    if plots and not plots_available():
        print(
            "surge: the plots need matplotlib (pip install 'pyqueue[surge]'); "
            "writing the Markdown reports only (--no-plots says so)",
            file=sys.stderr,
        )
        plots = False
    backends = ["memory", "redis"] if args.backend == "both" else [args.backend]
    if "redis" in backends and not redis_available():
        print("surge: redis-server is not installed; running on memory only", file=sys.stderr)
        backends = [b for b in backends if b != "redis"] or ["memory"]
    runs = []
    failed = False
    # Backend by backend, and the reports rewritten after every run: a long Redis series
    # that is stopped still leaves the memory figures and the Redis ones done so far.
    for backend in backends:
        for scenario in scenarios:
            run = run_scenario(scenario, backend, args.seed, args.capacity_bookings)
            runs.append(run)
            problems = check(run)
            failed = failed or bool(problems)
            f = run.figures
            print(
                f"{scenario.name} [{backend}, scale {scenario.scale:g}]: {f.visitors} visitors, "
                f"{f.requests} requests in {f.real_seconds:.1f} s (load {run.load_average:.1f}), "
                f"{f.bookings} bookings, "
                f"tau {f.kendall_tau:.4f}, peak {f.peak_requests_per_second:,} req/s, "
                f"capacity {run.capacity.per_hour:,.0f} bookings/h, "
                + ("OK" if not problems else "FAILED: " + "; ".join(problems)),
                flush=True,
            )
            write_reports(runs, args.output, plots=plots)
    print(f"surge: reports in {args.output}/", flush=True)
    return 1 if failed else 0
