"""Booking codes cannot be farmed: look-ups and cancels by code are rate limited per client
address, and the ones that find no booking are counted.

A booking code is the only thing that finds (and cancels) a booking without a pass, so guessing
codes is the attack to slow down. The buckets are those of the join limit
(:class:`~pyqueue.server.ratelimit.JoinRateLimiter`): in memory only, so client addresses are
never written to disk or Redis, and pruned by the ticker, so memory follows the addresses seen
in the last minutes. Each process counts for itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from pyqueue._core import Booking, UnknownBooking
from pyqueue.server.httpio import over_limit, rate_limited
from pyqueue.server.state import ServerState

T = TypeVar("T")


def take_code_try(request: web.Request, state: ServerState) -> None:
    """Takes one look-up (or cancel) by code from the address's bucket; raises
    ``rate_limited`` (429 with ``Retry-After``) when it has none left."""
    wait = over_limit(request, state, state.code_limiter)
    if wait:
        state.metrics.code_rate_limited += 1
        raise rate_limited("booking-code look-ups", wait)


async def by_code(
    request: web.Request, state: ServerState, room: str, find: Callable[[], Awaitable[T]]
) -> T:
    """``find()`` (a look-up or cancel by code) within the address's limit; a code that finds
    no booking is counted as a failed look-up of ``room``."""
    take_code_try(request, state)
    try:
        return await find()
    except UnknownBooking:
        # The room exists (an unknown room raises before): its id is a bounded label.
        state.metrics.code_misses[room] += 1
        raise


async def cancel_by_code(request: web.Request, state: ServerState, room: str, code: str) -> Booking:
    """Cancels by code within the address's limit, and counts the cancellation in
    ``/metrics``. A code cancelled before answers with that cancellation (its state and time),
    which is not counted again: the backend says which it was."""
    booking, cancelled_now = await by_code(
        request, state, room, lambda: state.backend.cancel(room, code)
    )
    if cancelled_now:
        state.metrics.cancellations[room] += 1
    return booking
