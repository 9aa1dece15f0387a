"""The pre-queue draw (``prequeue.rs``), waiting positions (``position.rs``) and wait
estimates (``eta.rs``) in plain Python, ported rule for rule from ``queue_core/src``."""

from __future__ import annotations

import math
from dataclasses import dataclass

_U64 = (1 << 64) - 1


# ----- the pre-queue draw -------------------------------------------------------------------


def draw_order(n: int, seed: int) -> list[int]:
    """Fisher-Yates driven by SplitMix64: element k is the join index placed k-th."""
    order = list(range(n))
    state = seed & _U64
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & _U64
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _U64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64
        j = (z ^ (z >> 31)) % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


# ----- waiting positions --------------------------------------------------------------------


class WaitingIndex:
    """A Fenwick tree with 1 for every queue position whose ticket still waits."""

    __slots__ = ("total", "tree")

    def __init__(self) -> None:
        self.tree = [0]
        self.total = 0

    def __len__(self) -> int:
        return len(self.tree) - 1

    def push(self, waiting: bool) -> None:
        i = len(self.tree)
        low = i & -i
        covered = self._prefix(i - 1) - self._prefix(i - low)
        self.tree.append(covered + waiting)
        self.total += waiting

    def extend_waiting(self, n: int) -> None:
        if len(self.tree) == 1:
            # With every value 1, a node covers exactly its lowest set bit.
            self.tree.extend(i & -i for i in range(1, n + 1))
            self.total = n
        else:
            for _ in range(n):
                self.push(True)

    def remove(self, position: int) -> None:
        tree = self.tree
        size = len(tree)
        i = position + 1
        while i < size:
            tree[i] -= 1
            i += i & -i
        self.total -= 1

    def ahead_of(self, position: int) -> int:
        return self._prefix(position)

    def _prefix(self, i: int) -> int:
        tree = self.tree
        total = 0
        while i:
            total += tree[i]
            i &= i - 1
        return total


# ----- wait estimates -----------------------------------------------------------------------

TIME_CONSTANT_SECONDS = 60.0
BUCKET_MICROS = 1_000_000
KNOWN_AFTER_SECONDS = 15.0


@dataclass(slots=True)
class Estimate:
    low: float
    seconds: float
    high: float
    known: bool


ZERO_ESTIMATE = Estimate(0.0, 0.0, 0.0, True)


class CursorSpeed:
    """The admission cursor's speed, smoothed with an EMA whose prior is the configured rate."""

    __slots__ = ("bucket_micros", "bucket_passed", "mean", "measured_seconds", "variance")

    def __init__(self, configured_per_second: float) -> None:
        self.mean = configured_per_second
        self.variance = 0.0
        self.measured_seconds = 0.0
        self.bucket_passed = 0
        self.bucket_micros = 0

    def reconfigure(self, configured_per_second: float) -> None:
        if self.measured_seconds == 0.0:
            self.mean = configured_per_second

    def record(self, passed: int, micros: int) -> None:
        if micros <= 0:
            return
        self.bucket_passed += passed
        self.bucket_micros += micros
        if self.bucket_micros < BUCKET_MICROS:
            return
        bucket_seconds = self.bucket_micros / 1e6
        sample = self.bucket_passed / bucket_seconds
        alpha = 1.0 - math.exp(-bucket_seconds / TIME_CONSTANT_SECONDS)
        delta = sample - self.mean
        self.mean += alpha * delta
        self.variance = (1.0 - alpha) * (self.variance + alpha * delta * delta)
        self.measured_seconds += bucket_seconds
        self.bucket_passed = 0
        self.bucket_micros = 0

    def known(self) -> bool:
        return self.measured_seconds >= KNOWN_AFTER_SECONDS

    def estimate(self, distance: int) -> Estimate:
        if distance == 0:
            return ZERO_ESTIMATE
        speed = max(self.mean, 1e-6)
        seconds = distance / speed
        known = self.measured_seconds >= KNOWN_AFTER_SECONDS
        spread = min(0.1 + math.sqrt(self.variance) / speed / 2.0, 0.5) if known else 0.5
        return Estimate(seconds * (1.0 - spread), seconds, seconds * (1.0 + spread), known)
