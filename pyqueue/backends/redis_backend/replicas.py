"""How many replicas a hold, booking or cancel waits for before it is answered.

``redis_wait_replicas``, but at most as many as are connected to the primary now: a primary
left without replicas (its replica promoted after a failover, the old primary not back yet)
keeps taking bookings rather than refusing all of them. The count is read from the primary
(``INFO replication``) at most once a second, on the first write that needs it, and again
right after a write found fewer replicas than it expected.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from typing import Any, Final

from pyqueue.backends.redis_backend.connection import Connection

#: How long a count of connected replicas is used before it is read again.
REFRESH_SECONDS: Final = 1.0


def online_replicas(info: Mapping[str, Any]) -> int:
    """The replicas that ``INFO replication`` (as redis-py parses it) shows online."""
    return sum(
        1
        for name, value in info.items()
        if name.startswith("slave")
        and name[5:].isdigit()
        and isinstance(value, Mapping)
        and value.get("state") == "online"
    )


class ReplicaCount:
    """The number of replicas to wait for, re-read from the primary when due."""

    def __init__(self, conn: Connection, wanted: int) -> None:
        self._conn = conn
        self._wanted = wanted
        self._online = 0
        self._read_at = -math.inf
        self._reading: asyncio.Task[None] | None = None

    async def needed(self) -> int:
        if self._wanted <= 0 or self._conn.is_cluster:
            return 0
        if time.monotonic() - self._read_at >= REFRESH_SECONDS:
            if self._reading is None:
                # One read in flight, however many writes wait for it.
                self._reading = asyncio.ensure_future(self._read())
                self._reading.add_done_callback(self._done)
            await asyncio.shield(self._reading)
        return min(self._wanted, self._online)

    def forget(self) -> None:
        """A write found fewer replicas than expected: the next one reads the count again."""
        self._read_at = -math.inf

    async def _read(self) -> None:
        info = await self._conn.call("INFO", "replication")
        self._online = online_replicas(info)
        self._read_at = time.monotonic()

    def _done(self, _: asyncio.Task[None]) -> None:
        self._reading = None
