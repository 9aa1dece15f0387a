"""Runs surge scenarios against the real server and writes their reports.

``python -m bench.surge [SCENARIO ...] [--backend memory|redis|both] [--scale X]``, or
``pyqueue bench surge …``. Reports go to ``bench/results/``: ``surge-<scenario>[-redis].md``,
PNG plots beside them, and ``surge.md`` with the table of every run.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.surge.driver import Driver, RunData
from bench.surge.metrics import Figures, summarise
from bench.surge.scenario import Scenario, all_scenarios, load_scenario, scenario_path
from bench.surge.servers import pyqueue_server, redis_available, redis_commands, redis_server

RESULTS = Path(__file__).resolve().parents[1] / "results"


@dataclass(frozen=True)
class Run:
    scenario: Scenario
    backend: str
    data: RunData
    figures: Figures
    redis_per_request: float | None


def run_scenario(scenario: Scenario, backend: str = "memory", seed: int = 1) -> Run:
    """One replay: fresh server (and Redis), the crowd, the figures."""
    if backend == "redis":
        with (
            redis_server() as port,
            pyqueue_server(scenario, f"redis://127.0.0.1:{port}/0") as server,
        ):
            before = redis_commands(port)
            data = asyncio.run(Driver(scenario, server.base_url, seed).run())
            used = redis_commands(port) - before
        figures = summarise(data)
        all_requests = sum(len(v) for v in data.latencies.values())
        return Run(scenario, backend, data, figures, used / max(1, all_requests))
    with pyqueue_server(scenario, "memory") as server:
        data = asyncio.run(Driver(scenario, server.base_url, seed).run())
    return Run(scenario, backend, data, summarise(data), None)


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
        problems.append(f"{f.place_changes} reloads or second devices got another place")
    if f.server_errors:
        problems.append(f"{f.server_errors} answers 5xx")
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
                f"{f.requests} requests in {f.real_seconds:.1f} s, {f.bookings} bookings, "
                f"tau {f.kendall_tau:.4f}, "
                + ("OK" if not problems else "FAILED: " + "; ".join(problems)),
                flush=True,
            )
            write_reports(runs, args.output, plots=not args.no_plots)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
