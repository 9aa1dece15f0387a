"""The Redis backend's time: Redis's ``TIME``, carried forward on the monotonic clock, and kept
from the most certain reading (a busy node's slow readings do not cost it the time)."""

from __future__ import annotations

from typing import Any

import pytest

from pyqueue.backends import BackendUnavailable
from pyqueue.backends.redis_backend import clock as clock_module
from pyqueue.backends.redis_backend.clock import MAX_AGE_SECONDS, RedisTime


class FakeTime:
    """The node's clocks: a wall clock 100 s fast, and a monotonic clock the test moves."""

    def __init__(self) -> None:
        self.mono = 1000.0

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.mono + 100.0


class FakeRedis:
    """Answers ``TIME`` with the true time (the monotonic clock) after ``round_trip`` seconds,
    half of them before Redis reads its clock."""

    def __init__(self, clocks: FakeTime) -> None:
        self.clocks = clocks
        self.round_trip = 0.002
        self.down = False

    async def __call__(self, *command: Any) -> list[bytes]:
        assert command == ("TIME",)
        if self.down:
            raise BackendUnavailable("the state store is unavailable")
        self.clocks.mono += self.round_trip / 2
        now = self.clocks.mono
        self.clocks.mono += self.round_trip / 2
        return [str(int(now)).encode(), str(round((now % 1) * 1e6)).encode()]


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(clock_module, "time", fake)
    return fake


async def test_the_time_is_redis_s_not_the_node_s(clocks: FakeTime) -> None:
    redis = FakeRedis(clocks)
    time = RedisTime(redis)
    with pytest.raises(BackendUnavailable):
        time.now()
    assert not time.status().ok
    await time.sync()
    assert time.now() == pytest.approx(clocks.mono, abs=0.002)
    status = time.status()
    assert status.ok and status.offset_seconds == pytest.approx(100.0, abs=0.002)


async def test_a_busy_node_keeps_its_time_and_stays_ready(clocks: FakeTime) -> None:
    """Before, a reading whose round trip (event-loop lag included) took over 0.5 s was refused
    with an error, so a node busy for a minute lost its clock check and readiness."""
    redis = FakeRedis(clocks)
    time = RedisTime(redis)
    await time.sync()
    redis.round_trip = 2.0
    for _ in range(30):
        clocks.mono += 5.0
        await time.sync()  # slow, less certain than the anchor: kept, and no error
    # The sharp anchor, carried forward on the monotonic clock, is still right.
    assert time.now() == pytest.approx(clocks.mono, abs=0.002)
    assert time.status().ok and time.status().synced_seconds_ago == 0.0
    # An anchor grows uncertain with age (the monotonic clock's drift): after a long time a
    # quicker reading than that uncertainty takes its place.
    clocks.mono += 10_000.0
    redis.round_trip = 0.2
    await time.sync()
    assert time.uncertainty() == pytest.approx(0.1, abs=0.001)


async def test_without_redis_the_clock_check_fails_after_a_while(clocks: FakeTime) -> None:
    redis = FakeRedis(clocks)
    time = RedisTime(redis)
    await time.sync()
    redis.down = True
    clocks.mono += MAX_AGE_SECONDS + 1
    with pytest.raises(BackendUnavailable):
        await time.sync()
    assert not time.status().ok
    # The rooms keep a time to answer reads by; writes need Redis anyway.
    assert time.now() == pytest.approx(clocks.mono, abs=0.002)
