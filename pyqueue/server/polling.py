"""When a visitor should ask again: ``poll_after_ms`` and ``Retry-After`` of a status.

The policy (the interval grows with the distance to the front, follows the time left before
opening, carries ±20 % jitter and stays under a share of the heartbeat timeout) is the core's,
in ``queue_core/src/polling.rs``: the native status polls and this general path ask the same
code. This module draws the jitter and writes the header.
"""

from __future__ import annotations

import random
from typing import Final

from pyqueue import _core
from pyqueue._core import heartbeat_cap_ms

__all__ = ["BACK_MS", "FRONT_MS", "JITTER", "MIN_MS", "heartbeat_cap_ms", "poll_after_ms"]

FRONT_MS: Final = _core.POLL_FRONT_MS
BACK_MS: Final = _core.POLL_BACK_MS
JITTER: Final = _core.POLL_JITTER
MIN_MS: Final = _core.POLL_MIN_MS

_random = random.random

#: "Retry-After" values by whole second, built once: the hot path only indexes.
_RETRY_AFTER: Final = tuple(str(s) for s in range(0, 3601))


def poll_after_ms(
    state: str,
    ahead: int | None,
    eta_seconds: float,
    opens_in_seconds: float,
    paused: bool,
    cap_ms: int,
) -> int:
    """The interval to the next poll, jittered, in milliseconds."""
    return _core.poll_after_ms(
        state, ahead, eta_seconds, opens_in_seconds, paused, cap_ms, _random()
    )


def retry_after(ms: int) -> str:
    """Whole seconds, rounded up, as the header value."""
    seconds = -(-ms // 1000)
    if seconds < len(_RETRY_AFTER):
        return _RETRY_AFTER[seconds]
    return str(seconds)
