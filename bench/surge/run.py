"""Runs surge scenarios against the real server, each followed by the booking-capacity phase
on the same server (:mod:`bench.surge.capacity`), and writes their reports.

``python -m bench.surge [SCENARIO ...] [--backend memory|redis|both] [--scale X]``, or
``pyqueue bench surge …``. Reports go to ``bench/results/``: ``surge-<scenario>[-redis].md``,
PNG plots beside them, and ``surge.md`` with the table of every run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import uvloop

from bench.procs import redis_available, redis_commands, redis_server
from bench.surge.capacity import BOOKINGS, Capacity, measure_booking_capacity
from bench.surge.driver import Driver, RunData
from bench.surge.metrics import Figures, summarise
from bench.surge.scenario import Scenario, all_scenarios, load_scenario, scenario_path
from bench.surge.servers import pyqueue_server

RESULTS = Path(__file__).resolve().parents[1] / "results"


@dataclass(frozen=True)
class Run:
    scenario: Scenario
    backend: str
    data: RunData
    figures: Figures
    capacity: Capacity
    redis_per_request: float | None
    #: The machine's 1-minute load average at the end of the replay (its own processes
    #: included): real-time figures depend on what else ran on the two cores.
    load_average: float


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
    if f.estimate_error_median is not None and f.estimate_error_median >= 0.15:
        problems.append(f"median estimate error {f.estimate_error_median:.1%}")
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
    parser.add_argument("scenarios", nargs="*", help="names or files (default: all)")
    parser.add_argument("--backend", choices=["memory", "redis", "both"], default="memory")
    parser.add_argument("--scale", type=float, help="override the scenarios' scale (0, 1]")
    parser.add_argument("--seed", type=int, default=1, help="the crowd's random seed")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the report directory")
    parser.add_argument("--no-plots", action="store_true", help="Markdown only")


def run_cli(args: argparse.Namespace) -> int:
    from bench.surge.report import write_reports

    paths = [scenario_path(n) for n in args.scenarios] or all_scenarios()
    backends = ["memory", "redis"] if args.backend == "both" else [args.backend]
    if "redis" in backends and not redis_available():
        print("surge: redis-server is not installed; running on memory only", file=sys.stderr)
        backends = [b for b in backends if b != "redis"] or ["memory"]
    runs = []
    failed = False
    scenarios = [load_scenario(path, args.scale) for path in paths]
    # Backend by backend, and the reports rewritten after every run: a long Redis series
    # that is stopped still leaves the memory figures and the Redis ones done so far.
    for backend in backends:
        for scenario in scenarios:
            run = run_scenario(scenario, backend, args.seed)
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
            write_reports(runs, args.output, plots=not args.no_plots)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
