"""The native status poll answers exactly as the server's general path does."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyqueue
from pyqueue.backends.memory import MemoryBackend
from pyqueue.backends.redis_backend import RedisBackend
from pyqueue.server import polling, render
from tests.conftest import OPENS_AT, RoomFactory
from tests.redis_fixtures import (  # noqa: F401 - the fixture is used by name
    SIGNER_KEYS,
    flush,
    redis_url,
)


def general_answer(room: pyqueue.Room, token: str, cap_ms: int) -> tuple[object, int]:
    saved = polling._random
    polling._random = lambda: 0.25
    try:
        body, ms, _ = render.status_json(room.id, room.status(token), cap_ms, lambda: 0.0, None)
    finally:
        polling._random = saved
    return orjson.loads(body), ms


@settings(max_examples=40, deadline=None)
@given(
    crowd=st.integers(1, 3000),
    minutes=st.floats(-90, 30),
    paused=st.booleans(),
    leave=st.booleans(),
    cap_ms=st.sampled_from([1_000, 40_000]),
)
def test_fast_and_general_status_agree(
    crowd: int, minutes: float, paused: bool, leave: bool, cap_ms: int
) -> None:
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=2))
    room = pyqueue.Room(
        pyqueue.RoomConfig("kiel", OPENS_AT, max_active=1, seed=3),
        pyqueue.Signer({"k1": "a-test-secret-of-32-bytes-length!"}),
        clock,
    )
    tickets = [room.join() for _ in range(crowd)]
    clock.set(OPENS_AT + timedelta(minutes=max(minutes, -119)))
    room.tick()
    if paused:
        room.pause()
    last = tickets[-1].token
    if leave:
        room.leave(last)
    body, ms, status = pyqueue.status_poll(room, last, cap_ms, 0.25)
    if body is None:
        # The draw put this visitor first: admitted, with a pass, which is the general path's.
        assert status is not None and status.pass_token is not None
        assert room.status(last).state == "admitted"
        return
    assert status is None
    assert (orjson.loads(body), ms) == general_answer(room, last, cap_ms)


def test_passes_take_the_general_path(make_room: RoomFactory, clock: pyqueue.VirtualClock) -> None:
    room = make_room()
    clock.set(OPENS_AT + timedelta(seconds=1))
    room.tick()
    ticket = room.join()
    body, ms, status = pyqueue.status_poll(room, ticket.token, 40_000, 0.5)
    assert (body, ms) == (None, 0)
    assert status is not None and status.pass_token is not None


def test_bad_tokens_raise_as_status_does(make_room: RoomFactory) -> None:
    with pytest.raises(pyqueue.TokenMalformed):
        pyqueue.status_poll(make_room(), "nonsense", 40_000, 0.5)


async def polls(
    memory: MemoryBackend, redis: RedisBackend, tokens: list[tuple[str, str]], random: float
) -> list[tuple[bytes | None, int]]:
    """Each ticket's native poll on both backends, after a general status on Redis has filled
    its cache; the two answers must be the same bytes."""
    answers = []
    for in_memory, in_redis in tokens:
        await redis.status("kiel", in_redis)
        body, ms, _ = memory.status_poll("kiel", in_memory, 40_000, random)
        assert redis.status_poll("kiel", in_redis, 40_000, random)[:2] == (body, ms)
        answers.append((body, ms))
    return answers


@pytest.mark.redis
async def test_redis_and_memory_polls_answer_the_same_bytes(redis_url: str) -> None:  # noqa: F811
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(minutes=30))
    signer = pyqueue.Signer(SIGNER_KEYS)
    memory = MemoryBackend(signer, clock)
    flush(redis_url)
    # Counters re-read at most hourly: after one general status, polls come from the cache.
    redis = RedisBackend(redis_url, signer, clock, refresh_seconds=3600.0)
    await memory.start()
    await redis.start()
    try:
        config = pyqueue.RoomConfig("kiel", OPENS_AT, admit_per_minute=6, max_active=1, seed=3)
        for backend in (memory, redis):
            await backend.create_room(config, "test")
        tokens = []
        for _ in range(4):
            m, r = await memory.join("kiel", None, None, None), await redis.join("kiel", None, None)
            tokens.append((m.token, r.token))
        before = await polls(memory, redis, tokens, 0.25)
        assert all(body is not None and b'"state":"prequeue"' in body for body, _ in before)

        clock.set(OPENS_AT + timedelta(seconds=30))
        for backend in (memory, redis):
            await backend.tick("kiel")
        for _ in range(3):
            m, r = await memory.join("kiel", None, None, None), await redis.join("kiel", None, None)
            tokens.append((m.token, r.token))
        after = await polls(memory, redis, tokens, 0.75)
        # One admitted (its pass takes the general path on both), the rest waiting in line.
        assert [body is None for body, _ in after].count(True) == 1
        assert sum(b'"state":"waiting"' in (body or b"") for body, _ in after) == 6

        for backend in (memory, redis):
            await backend.pause("kiel", "test")
        paused = await polls(memory, redis, tokens, 0.5)
        assert sum(b'"paused":true' in (body or b"") for body, _ in paused) == 6
        # A cache due for a refresh is Redis's general path, never a stale answer.
        redis.cache("kiel").stale = True
        assert redis.status_poll("kiel", tokens[-1][1], 40_000, 0.5) == (None, 0, None)
    finally:
        await redis.close()
        await memory.close()
