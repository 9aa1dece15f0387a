"""What durability costs: joins and hold+confirms per second through the memory backend with
the journal off, and on with each fsync policy, measured side by side in one run.

Changes come from ``CONCURRENCY`` tasks at once, as from that many HTTP requests in flight:
under the "always" policy they share syncs (group commit). One task alone shows the latency
of a sync per change. The data directory is in the system's temporary directory, so the
figures are those of its disk. The table goes to ``bench/results/journal.md``:

    python -m pytest bench/test_journal.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import pyqueue
from pyqueue.backends.memory import MemoryBackend
from pyqueue.config import settings_from_mapping

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
SECRET = "a-bench-secret-of-32-bytes-long!"
RESULTS = Path(__file__).parent / "results"
MODES = ["off", "interval", "always"]
CONCURRENCY = [1, 64]
OPERATIONS = {1: 500, 64: 4000}
ROUNDS = 5

# (operation, concurrency, mode) -> operations per second of the best round.
FIGURES: dict[tuple[str, int, str], float] = {}


def backend(mode: str, data_dir: Path) -> MemoryBackend:
    server: dict[str, Any] = {"secrets": {"k1": SECRET}}
    if mode != "off":
        server |= {"data_dir": str(data_dir), "fsync": mode, "fsync_interval_ms": 100}
    room = {
        "id": "kiel",
        "opens_at": OPENS_AT.isoformat(),
        "admit_per_minute": 1_000_000,
        "max_active": 1_000_000,
        "session_seconds": 3600,
    }
    settings = settings_from_mapping(
        {"server": server, "rooms": [room]}, base_dir=data_dir.parent, env={}
    )
    return MemoryBackend.from_settings(settings, pyqueue.VirtualClock(OPENS_AT + timedelta(1)))


async def in_parallel(concurrency: int, jobs: list[Any]) -> None:
    """Runs the coroutine functions ``jobs``, ``concurrency`` at a time."""
    queue = iter(jobs)

    async def worker() -> None:
        for job in queue:
            await job()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if not FIGURES:
        return
    lines = [
        "| operation | tasks | journal off | fsync interval | fsync always |",
        "|---|---:|---:|---:|---:|",
    ]
    for operation in ("join", "hold+confirm"):
        for concurrency in CONCURRENCY:
            cells = [FIGURES.get((operation, concurrency, mode)) for mode in MODES]
            text = [f"{c:,.0f}/s" if c else "-" for c in cells]
            lines.append(f"| {operation} | {concurrency} | " + " | ".join(text) + " |")
    table = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "journal.md").write_text(table)
    print("\n" + table)


def measure(benchmark: Any, operation: str, concurrency: int, mode: str, run: Any) -> None:
    """Benchmarks ``run`` on a fresh backend and data directory each round. ``run`` prepares
    what it needs and returns the seconds its ``count`` operations took, which is what counts:
    the round's own time includes the preparation."""
    count = OPERATIONS[concurrency]
    timings: list[float] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        data_dir = Path(tempfile.mkdtemp(prefix="pyqueue-bench-")) / "data"
        return (backend(mode, data_dir),), {}

    def round_(target: MemoryBackend) -> None:
        async def go() -> None:
            await target.start()
            timings.append(await run(target, count, concurrency))
            await target.close()

        asyncio.run(go())

    benchmark.group = f"journal {operation} x{concurrency}"
    benchmark.extra_info.update(unit=operation, per_round=count, load_average=os.getloadavg()[0])
    benchmark.pedantic(round_, setup=setup, rounds=ROUNDS)
    FIGURES[(operation, concurrency, mode)] = count / min(timings)
    benchmark.extra_info["per_second"] = count / min(timings)


async def joins(target: MemoryBackend, count: int, concurrency: int) -> float:
    async def join(i: int) -> None:
        await target.join("kiel", f"phone:{i}", None)

    started = time.perf_counter()
    await in_parallel(concurrency, [lambda i=i: join(i) for i in range(count)])
    return time.perf_counter() - started


async def holds_and_confirms(target: MemoryBackend, count: int, concurrency: int) -> float:
    slots = [
        {"id": f"s{i}", "group": f"centre {i % 20}", "starts_at": "2031-05-12T08:00:00Z"}
        for i in range(count)
    ]
    await target.add_slots("kiel", slots, "bench")
    passes = []
    for i in range(count):
        ticket = await target.join("kiel", f"phone:{i}", None)
        status = await target.status("kiel", ticket.token)
        passes.append(status.pass_token)

    async def book(i: int) -> None:
        pass_token = passes[i]
        assert pass_token is not None
        await target.hold("kiel", f"s{i}", pass_token)
        await target.confirm("kiel", f"s{i}", pass_token)

    started = time.perf_counter()
    await in_parallel(concurrency, [lambda i=i: book(i) for i in range(count)])
    return time.perf_counter() - started


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_joins(benchmark, mode, concurrency):
    measure(benchmark, "join", concurrency, mode, joins)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_holds_and_confirms(benchmark, mode, concurrency):
    measure(benchmark, "hold+confirm", concurrency, mode, holds_and_confirms)
