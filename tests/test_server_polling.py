"""The poll interval: grows with the distance, follows the opening, jittered, under the cap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyqueue.server.polling import (
    BACK_MS,
    FRONT_MS,
    JITTER,
    MIN_MS,
    heartbeat_cap_ms,
    poll_after_ms,
    retry_after,
)

STATES = ["prequeue", "waiting", "admitted", "completed", "expired", "abandoned", "left", "closed"]


def average(
    n: int = 400,
    *,
    state: str = "waiting",
    ahead: int | None = 0,
    eta_seconds: float = 1e9,
    opens_in_seconds: float = 0.0,
) -> float:
    total = sum(
        poll_after_ms(state, ahead, eta_seconds, opens_in_seconds, False, 10**9) for _ in range(n)
    )
    return total / n


def test_grows_with_the_distance_to_the_front():
    near, middle, far = (average(ahead=a) for a in (0, 500, 100_000))
    assert near < middle < far
    assert abs(near - FRONT_MS) < FRONT_MS * 0.05
    assert abs(far - BACK_MS) < BACK_MS * 0.05


def test_never_sleeps_through_the_own_turn():
    assert average(ahead=5000, eta_seconds=30) < 30_000 / 3 * 1.1
    assert average(ahead=5000, eta_seconds=0) >= FRONT_MS * (1 - JITTER)


def test_prequeue_follows_the_time_left():
    assert average(state="prequeue", opens_in_seconds=3) < average(
        state="prequeue", opens_in_seconds=60
    )
    assert average(state="prequeue", opens_in_seconds=86_400) <= BACK_MS * 1.05


def test_jitter_spreads_the_polls():
    values = {poll_after_ms("waiting", 100_000, 1e9, 0, False, 10**9) for _ in range(200)}
    assert len(values) > 50
    assert min(values) >= BACK_MS * (1 - JITTER) - 1
    assert max(values) <= BACK_MS * (1 + JITTER) + 1


@given(
    state=st.sampled_from(STATES),
    ahead=st.none() | st.integers(0, 10**9),
    eta=st.floats(0, 1e9),
    opens_in=st.floats(0, 1e9),
    paused=st.booleans(),
    heartbeat=st.integers(1, 10**6),
)
def test_always_under_the_heartbeat_cap(state, ahead, eta, opens_in, paused, heartbeat):
    cap = heartbeat_cap_ms(heartbeat)
    ms = poll_after_ms(state, ahead, eta, opens_in, paused, cap)
    assert MIN_MS <= ms <= max(MIN_MS, cap * (1 + JITTER))
    assert int(retry_after(ms)) * 1000 >= ms


def test_retry_after_rounds_up():
    assert retry_after(500) == "1"
    assert retry_after(1000) == "1"
    assert retry_after(1001) == "2"
    assert retry_after(10_000_000) == "10000"
