"""The booking capacity of the server, in real time: bookings per hour against a report's bar.

A replay runs on a virtual clock, so its bookings per virtual hour say how fast the scenario's
crowd books, not how fast the server could. This phase runs after the replay against the same
server process, in a room of its own (``<scenario>-capacity``, the scenario's room open since
the day before with room for everyone): ``bookings`` visitors join and are admitted (untimed),
then all of them hold a slot and confirm it over HTTP, ``concurrency`` at a time, as fast as the
server answers. Bookings per hour are those confirmed / the real seconds from the first hold to
the last confirmation, times 3600. Each visitor holds a different free slot, so no hold is lost to
contention (the replay counts those). The driver shares the machine's cores with the server:
the figure is a lower bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from pyqueue.surge.http import HttpPool
from pyqueue.surge.percentile import percentile
from pyqueue.surge.scenario import Scenario, capacity_room_id, capacity_slot_ids
from pyqueue.surge.servers import ADMIN_TOKEN

#: Bookings of the phase in a full run: a few seconds of real time on two cores.
BOOKINGS = 10000
CONCURRENCY = 64


@dataclass(frozen=True)
class Capacity:
    bookings: int
    concurrency: int
    real_seconds: float
    per_hour: float
    double_bookings: int
    hold_p50_ms: float
    hold_p99_ms: float
    confirm_p50_ms: float
    confirm_p99_ms: float


async def measure_booking_capacity(
    base_url: str, scenario: Scenario, bookings: int = BOOKINGS, concurrency: int = CONCURRENCY
) -> Capacity:
    pool = HttpPool(base_url, concurrency)
    path = f"/v1/rooms/{capacity_room_id(scenario)}"
    latencies: dict[str, list[float]] = {"hold": [], "confirm": []}

    async def call(method: str, url: str, token: str | None, route: str = "") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        status, raw, seconds = await pool.request(method, url, headers, b"{}")
        if route:
            latencies[route].append(seconds)
        return status, orjson.loads(raw) if raw else {}

    async def join(k: int) -> dict[str, Any]:
        body = orjson.dumps({"identity": f"capacity-{scenario.name}-{k:07d}"})
        _, raw, _ = await pool.request(
            "POST", path + "/join", {"Content-Type": "application/json"}, body
        )
        answer: dict[str, Any] = orjson.loads(raw)
        return answer

    async def admitted(ticket: str) -> str:
        _, answer = await call("GET", path + "/status", ticket)
        return str(answer["pass"])

    async def book(pass_token: str, slot: str) -> str | None:
        status, _ = await call("POST", f"{path}/slots/{slot}/hold", pass_token, "hold")
        if status != 201:
            return None
        status, body = await call("POST", f"{path}/slots/{slot}/confirm", pass_token, "confirm")
        return str(body["code"]) if status == 201 else None

    try:
        joined = await asyncio.gather(*(join(k) for k in range(bookings)))
        if any(answer["pass"] is None for answer in joined):
            # Those not admitted at their join are by the next tick: one step of the clock.
            await pool.request(
                "POST",
                "/v1/admin/clock",
                {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
                b'{"advance_seconds": 1}',
            )
        passes = await asyncio.gather(*(admitted(answer["ticket"]) for answer in joined))
        slots = capacity_slot_ids(scenario, bookings)
        started = time.perf_counter()
        codes = await asyncio.gather(*(book(p, s) for p, s in zip(passes, slots, strict=True)))
        real_seconds = time.perf_counter() - started
        # Every code looked up again (untimed): a slot with two live codes is double booked.
        found = await asyncio.gather(
            *(call("GET", f"{path}/bookings/{code}", None) for code in codes if code)
        )
    finally:
        pool.close()
    per_slot = Counter(
        body["slot"] for status, body in found if status == 200 and body["state"] == "booked"
    )
    booked = sum(1 for code in codes if code)
    return Capacity(
        bookings=booked,
        concurrency=concurrency,
        real_seconds=real_seconds,
        per_hour=booked / real_seconds * 3600,
        double_bookings=sum(1 for n in per_slot.values() if n > 1),
        hold_p50_ms=percentile(latencies["hold"], 0.5) * 1000,
        hold_p99_ms=percentile(latencies["hold"], 0.99) * 1000,
        confirm_p50_ms=percentile(latencies["confirm"], 0.5) * 1000,
        confirm_p99_ms=percentile(latencies["confirm"], 0.99) * 1000,
    )
