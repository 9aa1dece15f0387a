"""The nearest-rank percentile every figure of the replays uses."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    # The small epsilon keeps 0.99 * 100 from rounding up to the 100th value.
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered) - 1e-9) - 1))
    return ordered[rank]
