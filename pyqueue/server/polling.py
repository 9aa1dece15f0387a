"""When a visitor should ask again: ``poll_after_ms`` and ``Retry-After`` of a status.

A surge is mostly polling, so the interval is what shapes the load. It grows with the distance
to the front (those far back learn nothing new from frequent polls), follows the time left
before opening, and carries ±20 % jitter so that a million pollers who joined at the same
second spread out into a flat load instead of returning in waves. It always stays well under
the room's heartbeat timeout, so a visitor who polls as told is never taken for gone.
"""

from __future__ import annotations

import random
from typing import Final

FRONT_MS: Final = 2_000
BACK_MS: Final = 30_000
#: ``ahead`` from which the longest interval applies.
FAR_AHEAD: Final = 2_000
ADMITTED_MS: Final = 5_000
PAUSED_MS: Final = 10_000
#: Intervals never exceed this share of the heartbeat timeout (before jitter).
HEARTBEAT_SHARE: Final = 1 / 3
JITTER: Final = 0.2
MIN_MS: Final = 500

_random = random.random

#: "Retry-After" values by whole second, built once: the hot path only indexes.
_RETRY_AFTER: Final = tuple(str(s) for s in range(0, 3601))


def heartbeat_cap_ms(heartbeat_timeout_seconds: int) -> int:
    return max(MIN_MS, int(heartbeat_timeout_seconds * 1000 * HEARTBEAT_SHARE))


def poll_after_ms(
    state: str,
    ahead: int | None,
    eta_seconds: float,
    opens_in_seconds: float,
    paused: bool,
    cap_ms: int,
) -> int:
    """The interval to the next poll, jittered, in milliseconds."""
    if state == "waiting" and not paused:
        far = FAR_AHEAD if ahead is None or ahead > FAR_AHEAD else ahead
        base = FRONT_MS + (BACK_MS - FRONT_MS) * far / FAR_AHEAD
        # Never sleep through one's own turn by much: at most a third of the estimate.
        soon = eta_seconds * 333.3
        if soon < base:
            base = soon if soon > FRONT_MS else FRONT_MS
    elif state == "prequeue":
        base = opens_in_seconds * 250.0
        base = FRONT_MS if base < FRONT_MS else BACK_MS if base > BACK_MS else base
    elif state == "waiting":
        base = PAUSED_MS
    elif state == "admitted":
        base = ADMITTED_MS
    else:
        base = BACK_MS
    if base > cap_ms:
        base = cap_ms
    ms = int(base * (1.0 - JITTER + 2 * JITTER * _random()))
    return ms if ms > MIN_MS else MIN_MS


def retry_after(ms: int) -> str:
    """Whole seconds, rounded up, as the header value."""
    seconds = -(-ms // 1000)
    if seconds < len(_RETRY_AFTER):
        return _RETRY_AFTER[seconds]
    return str(seconds)
