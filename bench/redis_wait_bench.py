"""The cost of answering holds and bookings only once a replica has them (``WAIT``): holds and
confirmations per second from one process, against a Redis primary with one replica on
loopback, with ``redis_wait_replicas = 0`` and ``1`` in the same run.

    python -m bench.redis_wait_bench [--bookings 2000] [--concurrency 32]

The backend runs in this process on a virtual clock (no HTTP), so the figures are those of the
Redis round trips: the script, and with WAIT the replica's acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import pyqueue
from bench.procs import redis_call, redis_server
from pyqueue.backends.redis_backend import RedisBackend
from pyqueue.backends.redis_backend.connection import RedisOptions

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
SECRET = "bench-secret-of-at-least-32-bytes!!"


async def rate(work: Sequence[Callable[[], Awaitable[object]]], concurrency: int) -> float:
    """Runs every item, ``concurrency`` at a time; items per second."""
    pending = list(reversed(work))

    async def worker() -> None:
        while pending:
            await pending.pop()()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(work) / (time.perf_counter() - started)


async def measure(port: int, replicas: int, bookings: int, concurrency: int) -> tuple[float, float]:
    """Holds per second and confirmations per second, each over ``bookings`` slots."""
    redis_call(port, "FLUSHALL")
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = RedisBackend(
        f"redis://127.0.0.1:{port}/0",
        pyqueue.Signer({"k1": SECRET}),
        clock,
        options=RedisOptions(wait_replicas=replicas),
    )
    await backend.start()
    try:
        room = "bench"
        config = pyqueue.RoomConfig(room, OPENS_AT, admit_per_minute=1e7, max_active=bookings)
        await backend.create_room(config, "bench")
        starts = OPENS_AT + timedelta(days=2)
        slots = [{"id": f"s{i}", "group": "Kiel", "starts_at": starts} for i in range(bookings)]
        await backend.add_slots(room, slots, "bench")
        clock.set(OPENS_AT + timedelta(seconds=1))
        await backend.tick(room)
        tickets = await asyncio.gather(*(backend.join(room, None, None) for _ in range(bookings)))
        clock.advance(1)
        await backend.tick(room)
        passes = [(await backend.status(room, t.token)).pass_token or "" for t in tickets]
        holds = await rate(
            [lambda i=i, p=p: backend.hold(room, f"s{i}", p) for i, p in enumerate(passes)],
            concurrency,
        )
        confirms = await rate(
            [lambda i=i, p=p: backend.confirm(room, f"s{i}", p) for i, p in enumerate(passes)],
            concurrency,
        )
        return holds, confirms
    finally:
        await backend.close()


def waits(port: int) -> int:
    """The WAIT commands the primary has run (INFO commandstats)."""
    for line in redis_call(port, "INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_wait:"):
            return int(line.split("calls=", 1)[1].split(",", 1)[0])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting, alternated")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (make system-deps)", file=sys.stderr)
        return 2
    with (
        redis_server(durable=True) as primary,
        redis_server(extra=("--replicaof", "127.0.0.1", str(primary))) as replica,
    ):
        deadline = time.monotonic() + 60
        while b"master_link_status:up" not in redis_call(replica, "INFO", "replication"):
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not connect")
            time.sleep(0.1)
        print(f"{'WAIT replicas':>13} {'holds/s':>9} {'confirms/s':>11} {'WAITs sent':>11}")
        for replicas in (0, 1) * args.rounds:
            before = waits(primary)
            holds, confirms = asyncio.run(
                measure(primary, replicas, args.bookings, args.concurrency)
            )
            sent = waits(primary) - before
            print(f"{replicas:13} {holds:9.0f} {confirms:11.0f} {sent:11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
