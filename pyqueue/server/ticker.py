"""The background task that moves the rooms: admissions about every 100 ms, expired sessions,
hold and offer sweeps and scheduled releases (all inside the core's tick), plus housekeeping.

With a virtual clock (tests, surge replays) it also advances the clock, by ``clock_speed``
virtual seconds per real second, before each tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from pyqueue.backends import UnknownRoom
from pyqueue.server.state import ServerState

log = logging.getLogger("pyqueue.ticker")

#: Room settings (poll cap, handoff URL) are re-read this often, for changes made elsewhere.
REFRESH_SECONDS: Final = 2.0
#: Idle rate-limit buckets are dropped this often.
PRUNE_SECONDS: Final = 60.0
#: The ticker counts as stuck after this many intervals without a completed tick.
STUCK_INTERVALS: Final = 50


async def tick_all(state: ServerState) -> int:
    """One tick of every room; returns how many were admitted. Errors are logged, not raised:
    one room's failure must not stop the others."""
    admitted = 0
    metrics = state.metrics
    for room in await state.backend.room_ids():
        try:
            report = await state.backend.tick(room)
        except UnknownRoom:
            continue
        except Exception:
            metrics.tick_errors += 1
            log.exception("tick failed", extra={"room": room})
            continue
        metrics.count_tick(room, report)
        admitted += report.admitted
    return admitted


class Ticker:
    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._interval = state.server.tick_interval_seconds
        self._last_tick = time.monotonic()

    def healthy(self) -> bool:
        return time.monotonic() - self._last_tick < self._interval * STUCK_INTERVALS + 5.0

    async def run(self) -> None:
        state = self._state
        loop = asyncio.get_running_loop()
        last = loop.time()
        next_refresh = last + REFRESH_SECONDS
        next_prune = last + PRUNE_SECONDS
        while True:
            # Sleeping to the next multiple keeps the rate steady however long a tick took.
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - last)))
            now = loop.time()
            if state.clock is not None and state.clock_speed > 0:
                state.clock.advance((now - last) * state.clock_speed)
            last = now
            await tick_all(state)
            self._last_tick = time.monotonic()
            if now >= next_refresh:
                next_refresh = now + REFRESH_SECONDS
                await self._refresh_rooms()
            if now >= next_prune:
                next_prune = now + PRUNE_SECONDS
                state.limiter.prune()

    async def _refresh_rooms(self) -> None:
        state = self._state
        try:
            known = await state.backend.room_ids()
            for room in known:
                await state.refresh_room(room)
            for gone in set(state.rooms) - set(known):
                del state.rooms[gone]
        except Exception:
            log.exception("refreshing room settings failed")
