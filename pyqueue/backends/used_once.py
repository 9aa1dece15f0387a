"""The memory backend's record of proof-of-work solutions already used.

A solution admits one join. Each is remembered until its challenge expires (5 minutes after it
was handed out), after which the core refuses it as expired anyway, so the store is pruned by
expiry and never grows past what arrives in one challenge lifetime. It is bounded all the same:
when that many solutions arrive within one lifetime, new ones are refused (the client may retry
shortly) rather than forgetting one that is still valid, which would let it be used twice.
"""

from __future__ import annotations

import heapq
from typing import Final

#: At most this many unexpired solutions are remembered (about 100 MB at the bound).
MAX_REMEMBERED: Final = 1_000_000


class StoreFull(Exception):
    """More solutions in one challenge lifetime than the store may hold."""


class UsedOnce:
    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._until: dict[bytes, float] = {}
        # (expiry, key), oldest first: pruning looks only at what has expired.
        self._expiries: list[tuple[float, bytes]] = []

    def use(self, key: bytes, until: float, now: float) -> bool:
        """True the first time ``key`` is used before ``until``; False when it was used already.
        Raises :class:`StoreFull` instead of forgetting an unexpired key."""
        self.prune(now)
        if key in self._until:
            return False
        if len(self._until) >= self.limit:
            raise StoreFull(f"{self.limit} challenge solutions within one challenge lifetime")
        self._until[key] = until
        heapq.heappush(self._expiries, (until, key))
        return True

    def prune(self, now: float) -> int:
        dropped = 0
        while self._expiries and self._expiries[0][0] <= now:
            _, key = heapq.heappop(self._expiries)
            del self._until[key]
            dropped += 1
        return dropped

    def __len__(self) -> int:
        return len(self._until)
