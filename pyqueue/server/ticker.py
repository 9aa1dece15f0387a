"""The server's background tasks: the ticker that moves the rooms (admissions about every
100 ms, expired sessions, hold and offer sweeps and scheduled releases, all inside the core's
tick), the refresh of room settings changed elsewhere, and the pruning of idle rate-limit
buckets. Each runs supervised (:mod:`pyqueue.background`): no failure ends it.

With a virtual clock (tests, surge replays) the ticker also advances the clock, by
``clock_speed`` virtual seconds per real second, before each tick.
"""

from __future__ import annotations

import asyncio
from typing import Final

from pyqueue.backends import UnknownRoom
from pyqueue.background import BackgroundTasks
from pyqueue.server.state import ServerState

#: Room settings (poll cap, handoff URL) are re-read this often, for changes made elsewhere.
REFRESH_SECONDS: Final = 2.0
#: Idle rate-limit buckets are dropped this often.
PRUNE_SECONDS: Final = 60.0
#: A tick still running after this long counts as hung (each Redis command has its own timeout,
#: so only a bug gets here).
STUCK_SECONDS: Final = 60.0


class TickFailed(Exception):
    """Some rooms could not be ticked; the others were."""

    def __init__(self, failures: list[tuple[str, Exception]], rooms: int) -> None:
        self.failures = failures
        #: Only when every room failed: backing off would delay the rooms that tick well.
        self.backoff = len(failures) >= rooms
        super().__init__("; ".join(f"room {room}: {exc}" for room, exc in failures))


async def tick_all(state: ServerState) -> int:
    """One tick of every room; returns how many were admitted. One room's failure does not stop
    the others; afterwards :class:`TickFailed` names every room that failed."""
    admitted = 0
    metrics = state.metrics
    failures: list[tuple[str, Exception]] = []
    rooms = await state.backend.room_ids()
    for room in rooms:
        try:
            report = await state.backend.tick(room)
        except UnknownRoom:
            continue
        except Exception as exc:
            metrics.count_tick_error(room)
            failures.append((room, exc))
            continue
        metrics.count_tick(room, report)
        admitted += report.admitted
    if failures:
        raise TickFailed(failures, len(rooms)) from failures[0][1]
    return admitted


class Ticker:
    """The tick step, advancing a virtual clock by the real time since the previous step."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._last = asyncio.get_running_loop().time()

    async def step(self) -> None:
        state = self._state
        now = asyncio.get_running_loop().time()
        if state.clock is not None and state.clock_speed > 0:
            state.clock.advance((now - self._last) * state.clock_speed)
        self._last = now
        await tick_all(state)


def start_server_tasks(state: ServerState, tasks: BackgroundTasks) -> None:
    """Starts the ticker, the room refresh and the rate-limit pruning under supervision."""
    tasks.start(
        "ticker",
        Ticker(state).step,
        state.server.tick_interval_seconds,
        stuck_after=STUCK_SECONDS,
    )
    tasks.start("room-refresh", lambda: refresh_rooms(state), REFRESH_SECONDS)
    tasks.start("rate-limit-prune", lambda: prune_limiter(state), PRUNE_SECONDS)


async def refresh_rooms(state: ServerState) -> None:
    """Re-reads every room's settings and forgets rooms deleted elsewhere."""
    known = await state.backend.room_ids()
    for room in known:
        await state.refresh_room(room)
    for gone in set(state.rooms) - set(known):
        del state.rooms[gone]


async def prune_limiter(state: ServerState) -> None:
    state.limiter.prune()
    state.code_limiter.prune()
