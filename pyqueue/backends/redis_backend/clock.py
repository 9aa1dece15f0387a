"""The time of the rooms on Redis: Redis's own clock, shared by every node.

Each node's wall clock may be wrong; a node whose clock runs fast would open a room early,
admit early and expire passes early for its visitors, since every script takes "now" as an
argument and the node decides statuses and token expiry itself. So nothing uses the node's wall
clock: the backend reads Redis's ``TIME`` at start and then every :data:`SYNC_SECONDS`, and
carries that reading forward on the node's monotonic clock, which measures intervals correctly
whatever the wall clock says. Every script argument, status and token check is on this time.

In a Redis Cluster the reading comes from one node (redis-py's default node); the masters of a
cluster are expected to keep their clocks in step (NTP), as Redis itself assumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pyqueue.backends import BackendUnavailable, ClockStatus

log = logging.getLogger("pyqueue.redis")

#: How often Redis's time is read again.
SYNC_SECONDS: Final = 5.0
#: A reading older than this makes the node not ready (the monotonic clock may drift a little).
MAX_AGE_SECONDS: Final = 60.0
#: A reading whose round trip took longer than this is too uncertain to use.
MAX_ROUND_TRIP_SECONDS: Final = 0.5
#: A node clock further off Redis's than this is worth a warning in the log (it is harmless here,
#: but the same clock may serve other software on the node).
WARN_OFFSET_SECONDS: Final = 1.0


class RedisTime:
    """Redis's clock, as last read with ``TIME`` and carried forward on the monotonic clock."""

    def __init__(self, call: Callable[..., Awaitable[Any]]) -> None:
        self._call = call
        #: Redis's time at the anchor, and the monotonic time of the anchor.
        self._redis_at_anchor: float | None = None
        self._mono_at_anchor = 0.0
        self._offset: float | None = None
        self._warned_offset = False

    def now(self) -> float:
        if self._redis_at_anchor is None:
            raise BackendUnavailable("the time has not been read from Redis yet")
        return self._redis_at_anchor + (time.monotonic() - self._mono_at_anchor)

    async def sync(self) -> None:
        """Reads ``TIME``; raises ``BackendUnavailable`` when Redis cannot be reached or the
        reading is too uncertain (the previous one stays in use)."""
        wall_sent, sent = time.time(), time.monotonic()
        reply = await self._call("TIME")
        wall_received, received = time.time(), time.monotonic()
        round_trip = received - sent
        if round_trip > MAX_ROUND_TRIP_SECONDS and self._redis_at_anchor is not None:
            # The first reading is taken however slow: a node must start somewhere.
            raise BackendUnavailable(
                f"reading the time from Redis took {round_trip:.3f} s; the reading is not used"
            )
        seconds, micros = int(reply[0]), int(reply[1])
        # Redis read its clock somewhere within the round trip: the middle is the best guess,
        # wrong by at most half the round trip.
        self._redis_at_anchor = seconds + micros / 1e6
        self._mono_at_anchor = (sent + received) / 2
        self._offset = (wall_sent + wall_received) / 2 - self._redis_at_anchor
        if abs(self._offset) > WARN_OFFSET_SECONDS and not self._warned_offset:
            self._warned_offset = True
            log.warning(
                "this node's clock is off Redis's; the rooms run on Redis's time",
                extra={"offset_seconds": round(self._offset, 3)},
            )

    def status(self) -> ClockStatus:
        if self._redis_at_anchor is None:
            return ClockStatus("redis", ok=False)
        age = time.monotonic() - self._mono_at_anchor
        return ClockStatus(
            "redis",
            ok=age <= MAX_AGE_SECONDS,
            offset_seconds=self._offset,
            synced_seconds_ago=age,
        )
