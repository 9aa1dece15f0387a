"""Property tests of the queue's fairness rules under random arrivals, polls, leaves and ticks."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyqueue
from tests.conftest import OPENS_AT

SECRET = "a-test-secret-of-32-bytes-length!"

# One step of a scenario: (seconds to advance, action, argument).
steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=5, allow_nan=False),
        st.sampled_from(["join", "join_identity", "poll", "leave", "complete", "tick"]),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=steps,
    seed=st.integers(0, 2**64 - 1),
    max_active=st.integers(1, 8),
    rate=st.sampled_from([6.0, 60.0, 600.0]),
    start_before=st.floats(min_value=0, max_value=120),
)
def test_fairness_invariants(
    steps: list[tuple[float, str, int]],
    seed: int,
    max_active: int,
    rate: float,
    start_before: float,
) -> None:
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(seconds=start_before))
    room = pyqueue.Room(
        pyqueue.RoomConfig(
            "prop",
            OPENS_AT,
            admit_per_minute=rate,
            max_active=max_active,
            seed=seed,
            heartbeat_timeout_seconds=30,
        ),
        pyqueue.Signer({"k1": SECRET}),
        clock,
    )
    tickets: list[pyqueue.Ticket] = []
    last_ahead: dict[int, int] = {}
    admitted_at_step: dict[int, int] = {}
    lost_turn: set[int] = set()  # left or abandoned: may come back at the end of the line
    step_no = 0
    queue_order: dict[int, int] = {}  # ticket -> place when it got one
    identities: dict[str, int] = {}

    def observe(t: pyqueue.Ticket) -> None:
        status = room.status(t.token)
        if clock.now() < OPENS_AT:
            assert status.state in ("prequeue", "left"), "admitted or waiting before opening"
        if status.ahead is not None:
            if t.id in last_ahead:
                assert status.ahead <= last_ahead[t.id], "ahead went up"
            last_ahead[t.id] = status.ahead
        if status.state == "admitted":
            admitted_at_step.setdefault(t.id, step_no)
        if status.state in ("left", "abandoned"):
            lost_turn.add(t.id)

    for advance, action, arg in steps:
        step_no += 1
        clock.advance(advance)
        if action == "join":
            tickets.append(room.join())
        elif action == "join_identity":
            name = f"id{arg % 5}"
            t = room.join(identity=name)
            if name in identities:
                assert t.id == identities[name], "one identity, two tickets"
            identities[name] = t.id
            if t.new:
                tickets.append(t)
        elif tickets and action == "poll":
            observe(tickets[arg % len(tickets)])
        elif tickets and action == "leave":
            t = tickets[arg % len(tickets)]
            room.leave(t.token)
            last_ahead.pop(t.id, None)
            lost_turn.add(t.id)
        elif tickets and action == "complete":
            status = room.status(tickets[arg % len(tickets)].token)
            if status.pass_token:
                room.complete(status.pass_token)
        else:
            room.tick()
        info = room.info()
        assert info.active <= max_active, "capacity exceeded"
        if clock.now() < OPENS_AT:
            assert info.counters["admitted"] == 0
        for t in tickets:
            observe(t)

    draw = room.draw()
    if draw is not None:
        assert sorted(draw.order) == sorted(draw.joined)
        assert draw.order == [draw.joined[i] for i in pyqueue.draw_order(len(draw.joined), seed)]
        for place, t in enumerate(draw.order):
            queue_order.setdefault(t, place)
    # Admission follows the drawn order: of two tickets from the pre-queue that kept their
    # turn, the one placed first is never admitted later.
    fair = sorted(
        (queue_order[t], step)
        for t, step in admitted_at_step.items()
        if t in queue_order and t not in lost_turn
    )
    steps_in_draw_order = [step for _, step in fair]
    assert steps_in_draw_order == sorted(steps_in_draw_order)
