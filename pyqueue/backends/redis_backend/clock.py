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
#: Without a reading of Redis's time for this long, the node is not ready: Redis is lost.
MAX_AGE_SECONDS: Final = 60.0
#: How far the monotonic clock may drift from real time, per second (100 ppm is generous: a
#: quartz clock keeps within about 20). An old anchor grows this uncertain.
DRIFT_PER_SECOND: Final = 1e-4
#: A node clock further off Redis's than this is worth a warning in the log (it is harmless here,
#: but the same clock may serve other software on the node).
WARN_OFFSET_SECONDS: Final = 1.0


class RedisTime:
    """Redis's clock, as read with ``TIME`` and carried forward on the monotonic clock.

    Of the readings, the most certain one anchors the time: a reading is wrong by at most half
    its round trip, which on a busy node includes the event loop's lag, and an anchor grows
    less certain only by the monotonic clock's drift. So a node too busy to read Redis's time
    quickly keeps its earlier, sharper anchor rather than losing the time altogether.
    """

    def __init__(self, call: Callable[..., Awaitable[Any]]) -> None:
        self._call = call
        #: Redis's time at the anchor, the monotonic time of the anchor, and how wrong the
        #: anchor may have been when it was read.
        self._redis_at_anchor: float | None = None
        self._mono_at_anchor = 0.0
        self._anchor_error = 0.0
        #: The monotonic time of the last answer to ``TIME``: Redis is there and agrees.
        self._last_read: float | None = None
        self._offset: float | None = None
        self._warned_offset = False

    def now(self) -> float:
        if self._redis_at_anchor is None:
            raise BackendUnavailable("the time has not been read from Redis yet")
        return self._redis_at_anchor + (time.monotonic() - self._mono_at_anchor)

    def uncertainty(self) -> float:
        """How far :meth:`now` may be from Redis's clock, seconds."""
        age = time.monotonic() - self._mono_at_anchor
        return self._anchor_error + DRIFT_PER_SECOND * age

    async def sync(self) -> None:
        """Reads ``TIME`` and keeps the reading if it is more certain than the anchor; raises
        ``BackendUnavailable`` when Redis cannot be reached."""
        wall_sent, sent = time.time(), time.monotonic()
        reply = await self._call("TIME")
        wall_received, received = time.time(), time.monotonic()
        self._last_read = received
        error = (received - sent) / 2
        if self._redis_at_anchor is not None and error > self.uncertainty():
            return
        seconds, micros = int(reply[0]), int(reply[1])
        # Redis read its clock somewhere within the round trip: the middle is the best guess,
        # wrong by at most half the round trip.
        self._redis_at_anchor = seconds + micros / 1e6
        self._mono_at_anchor = (sent + received) / 2
        self._anchor_error = error
        self._offset = (wall_sent + wall_received) / 2 - self._redis_at_anchor
        if abs(self._offset) > WARN_OFFSET_SECONDS and not self._warned_offset:
            self._warned_offset = True
            log.warning(
                "this node's clock is off Redis's; the rooms run on Redis's time",
                extra={"offset_seconds": round(self._offset, 3)},
            )

    def status(self) -> ClockStatus:
        if self._redis_at_anchor is None or self._last_read is None:
            return ClockStatus("redis", ok=False)
        age = time.monotonic() - self._last_read
        return ClockStatus(
            "redis",
            ok=age <= MAX_AGE_SECONDS,
            offset_seconds=self._offset,
            synced_seconds_ago=age,
        )
