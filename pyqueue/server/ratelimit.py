"""A per-address token bucket for joins.

Joins are the only visitor call that creates state, so they are the one worth limiting per
client; polls are shaped by ``poll_after_ms`` instead. Buckets of idle addresses are dropped
by :meth:`JoinRateLimiter.prune`, which the ticker calls, so memory stays bounded by the
addresses seen in the last minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

#: Buckets untouched for this long are full again and can be forgotten.
_IDLE_SECONDS: Final = 600.0


class JoinRateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self._clock = clock
        # address -> (tokens, last update)
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, address: str) -> float:
        """0.0 when allowed (a token is taken), else the seconds until one is free."""
        now = self._clock()
        tokens, last = self._buckets.get(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[address] = (tokens - 1.0, now)
            return 0.0
        self._buckets[address] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def prune(self) -> int:
        now = self._clock()
        idle = [a for a, (_, last) in self._buckets.items() if now - last > _IDLE_SECONDS]
        for address in idle:
            del self._buckets[address]
        return len(idle)

    def __len__(self) -> int:
        return len(self._buckets)
