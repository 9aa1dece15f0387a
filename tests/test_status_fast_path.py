"""The native status poll answers exactly as the server's general path does."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyqueue
from pyqueue.server import polling, render
from tests.conftest import OPENS_AT, RoomFactory


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
