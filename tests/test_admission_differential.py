"""The admission rules of the Redis scripts held to the core's.

The Redis backend's tick (``lua/tick.lua``) and its join, leave and complete scripts restate the
core's admission rules (``queue_core/src/admission.rs``, ``queue.rs``), because they must run
atomically inside Redis. This test drives the core (the memory backend) and a real Redis room with
the same generated steps at the same virtual times (joins by identity or resumed token, leaves,
status polls, which are the heartbeats, completes, pauses, resumes, queue-all and ticks, across
the opening and the closing) and compares, after every step, what the step answered and the
room's counts (waiting, active, and every counter). A status poll compares the polled ticket's
state and place (``ahead``); at the end every ticket is polled once and compared. Only polls read
a ticket, since reading a ticket is its heartbeat. Wait estimates are not compared.

``PYQUEUE_DIFFERENTIAL_EXAMPLES`` sets the number of examples (default 300, about 10 s on two
cores); a larger run (3000 take about 2.5 minutes, beyond the per-test timeout):
``PYQUEUE_DIFFERENTIAL_EXAMPLES=3000 .venv/bin/python -m pytest --timeout 0
tests/test_admission_differential.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import redis
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import pyqueue
from pyqueue.backends import Backend
from pyqueue.backends.redis_backend.keys import RoomKeys
from tests.redis_fixtures import new_backend, redis_url  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.redis

ROOM = "diff"
ACTOR = "operator"
OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("PYQUEUE_DIFFERENTIAL_EXAMPLES", "300"))
T = TypeVar("T")

# Steps apart by nothing, by a little, and by either side of the heartbeat timeouts and sessions.
GAPS = (0.0, 0.000001, 0.3, 1.0, 5.0, 29.0, 30.0, 31.0, 59.0, 60.0, 61.0, 130.0)
IDENTITIES = ("phone:1", "phone:2", "phone:3")


@dataclass
class Step:
    action: str
    gap: float
    pick: int = 0
    identity: str | None = None
    on: bool = False

    def __repr__(self) -> str:
        extra = {"pick": self.pick, "identity": self.identity, "on": self.on}
        shown = ", ".join(f"{k}={v!r}" for k, v in extra.items() if v not in (0, None, False))
        return f"Step({self.action!r}, +{self.gap}s{', ' if shown else ''}{shown})"


def steps() -> st.SearchStrategy[Step]:
    gap = st.sampled_from(GAPS)
    pick = st.integers(0, 15)
    return st.one_of(
        st.builds(Step, st.just("join"), gap, identity=st.none() | st.sampled_from(IDENTITIES)),
        st.builds(Step, st.just("resume"), gap, pick),
        st.builds(Step, st.just("leave"), gap, pick),
        st.builds(Step, st.just("poll"), gap, pick),
        st.builds(Step, st.just("complete"), gap, pick),
        st.builds(Step, st.just("tick"), gap),
        st.builds(Step, st.just("pause"), gap),
        st.builds(Step, st.just("resume_room"), gap),
        st.builds(Step, st.just("queue_all"), gap, on=st.booleans()),
    )


@dataclass(frozen=True)
class Setup:
    before_opening: float
    admit_per_minute: float
    max_active: int
    session_seconds: int
    heartbeat_timeout_seconds: int
    prequeue: str
    closes_after: float | None

    def config(self) -> pyqueue.RoomConfig:
        closes = (
            None if self.closes_after is None else OPENS_AT + timedelta(seconds=self.closes_after)
        )
        return pyqueue.RoomConfig(
            ROOM,
            OPENS_AT,
            admit_per_minute=self.admit_per_minute,
            max_active=self.max_active,
            session_seconds=self.session_seconds,
            heartbeat_timeout_seconds=self.heartbeat_timeout_seconds,
            prequeue=self.prequeue,
            closes_at=closes,
            seed=2021,
        )


setups = st.builds(
    Setup,
    before_opening=st.sampled_from((0.0, 1.0, 40.0)),
    admit_per_minute=st.sampled_from((6.0, 60.0, 90.0, 600.0)),
    max_active=st.sampled_from((1, 2, 3, 100)),
    session_seconds=st.sampled_from((30, 60, 120)),
    heartbeat_timeout_seconds=st.sampled_from((30, 60)),
    prequeue=st.sampled_from(("shuffle", "fifo")),
    closes_after=st.sampled_from((None, None, 200.0, 400.0)),
)


@dataclass
class Side:
    """One backend under test and what its visitors hold."""

    backend: Backend
    tokens: list[str] = field(default_factory=list)
    passes: dict[int, str] = field(default_factory=dict)


def outcome(call: Callable[[], Any]) -> Any:
    """What a call answered, or the code of the error it raised."""
    try:
        return call()
    except pyqueue.PyqueueError as error:
        return ("refused", getattr(error, "code", type(error).__name__))


class Pair:
    """The memory backend (the core) and a Redis backend on one virtual clock."""

    def __init__(self, url: str, setup: Setup) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = pyqueue.VirtualClock(OPENS_AT - timedelta(seconds=setup.before_opening))
        self.core = Side(new_backend("memory", self.clock, None))
        self.redis = Side(new_backend("redis", self.clock, url))
        for side in self.sides:
            self.run(side.backend.start())
            self.run(side.backend.create_room(setup.config(), ACTOR))

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.core, self.redis

    def run(self, call: Awaitable[T]) -> T:
        return self.loop.run_until_complete(call)  # type: ignore[arg-type]

    def close(self) -> None:
        for side in self.sides:
            self.run(side.backend.close())
        self.loop.close()

    def both(self, act: Callable[[Side], Any], what: str) -> Any:
        """Runs ``act`` on each side; both must answer the same."""
        core, redis = (outcome(lambda side=side: act(side)) for side in self.sides)
        assert core == redis, f"{what}: core {core!r}, Redis {redis!r}"
        return core

    def counts(self) -> dict[str, Any]:
        return self.both(lambda side: describe_room(self.run(side.backend.room_info(ROOM))), "room")

    # ----- the steps -----------------------------------------------------------------------

    def apply(self, step: Step) -> None:
        self.clock.advance(step.gap)
        known = len(self.core.tokens)
        pick = step.pick % known if known else None
        if step.action == "join":
            self.both(lambda side: self.join(side, step.identity, None), "join")
        elif step.action == "resume" and pick is not None:
            self.both(lambda side: self.join(side, None, side.tokens[pick]), f"resume {pick}")
        elif step.action == "leave" and pick is not None:
            self.both(lambda side: self.leave(side, pick), f"leave {pick}")
        elif step.action == "poll" and pick is not None:
            self.both(lambda side: self.poll(side, pick), f"poll {pick}")
        elif step.action == "complete" and pick is not None:
            self.both(lambda side: self.complete(side, pick), f"complete {pick}")
        elif step.action == "tick":
            self.both(lambda side: describe_tick(self.run(side.backend.tick(ROOM))), "tick")
        elif step.action == "pause":
            self.both(lambda side: self.run(side.backend.pause(ROOM, ACTOR)), "pause")
        elif step.action == "resume_room":
            self.both(lambda side: self.run(side.backend.resume(ROOM, ACTOR)), "resume room")
        elif step.action == "queue_all":
            self.both(
                lambda side: self.run(side.backend.queue_all(ROOM, step.on, ACTOR)), "queue_all"
            )
        self.counts()

    def join(self, side: Side, identity: str | None, resume: str | None) -> tuple[int, str, bool]:
        ticket = self.run(side.backend.join(ROOM, identity, resume))
        if ticket.new:
            assert ticket.id == len(side.tokens)
            side.tokens.append(ticket.token)
        return ticket.id, ticket.state, ticket.new

    def leave(self, side: Side, pick: int) -> str:
        return self.run(side.backend.leave(ROOM, side.tokens[pick]))

    def poll(self, side: Side, pick: int) -> tuple[str, int | None, int | None]:
        status = self.run(side.backend.status(ROOM, side.tokens[pick]))
        if status.pass_token is not None:
            side.passes[pick] = status.pass_token
        return status.state, status.ahead, status.ahead_at_start

    def complete(self, side: Side, pick: int) -> str | None:
        pass_token = side.passes.get(pick)
        if pass_token is None:
            return "no pass seen"
        self.run(side.backend.complete(ROOM, pass_token))
        return None


def describe_room(info: pyqueue.RoomInfo) -> dict[str, Any]:
    return {
        "state": info.state,
        "waiting": info.waiting,
        "active": info.active,
        "queue_all": info.queue_all,
        "counters": info.counters,
    }


def describe_tick(report: pyqueue.TickReport) -> tuple[int, int, int]:
    return report.admitted, report.abandoned, report.expired


def play(url: str, setup: Setup, script: list[Step]) -> None:
    pair = Pair(url, setup)
    try:
        pair.counts()
        for step in script:
            pair.apply(step)
        # Last, every ticket's state and place; polling is a heartbeat, so only now.
        for pick in range(len(pair.core.tokens)):
            pair.both(lambda side, pick=pick: pair.poll(side, pick), f"final poll {pick}")
    finally:
        pair.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # No explain phase: it reruns a failing case hundreds of times to annotate it.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(setup=setups, script=st.lists(steps(), max_size=30))
def test_the_redis_scripts_admit_as_the_core_does(
    redis_url: str,  # noqa: F811 - the fixture
    setup: Setup,
    script: list[Step],
) -> None:
    note(f"{setup!r}\n" + "\n".join(map(repr, script)))
    play(redis_url, setup, script)


# ----- the mismatches the property found, as plain cases -------------------------------------


def test_the_heartbeat_case_first_found(redis_url: str) -> None:  # noqa: F811 - the fixture
    """A poll of an admitted ticket whose pass ran out ends the session in the core, so its
    capacity is free before the next tick; the Redis status left it active until the tick."""
    setup = Setup(0.0, 60.0, 1, 30, 30, "shuffle", None)
    script = [
        Step("join", 0.0),
        Step("leave", 0.0, 0),
        Step("join", 1.0),
        Step("join", 31.0),
        Step("poll", 61.0, 1),
        Step("tick", 0.0),
    ]
    play(redis_url, setup, script)


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_pass_that_ran_out_frees_its_capacity_when_its_status_is_asked(
    redis_url: str,  # noqa: F811 - the fixture
    kind: str,
) -> None:
    loop = asyncio.new_event_loop()
    clock = pyqueue.VirtualClock(OPENS_AT)
    backend = new_backend(kind, clock, redis_url if kind == "redis" else None)
    config = pyqueue.RoomConfig(ROOM, OPENS_AT, max_active=1, session_seconds=30, seed=1)
    try:
        loop.run_until_complete(backend.start())
        loop.run_until_complete(backend.create_room(config, ACTOR))
        clock.advance(1)
        first = loop.run_until_complete(backend.join(ROOM, None, None))
        assert first.state == "admitted"
        clock.advance(31)
        status = loop.run_until_complete(backend.status(ROOM, first.token))
        assert status.state == "expired"
        assert loop.run_until_complete(backend.room_info(ROOM)).active == 0
        # Nobody waits and the capacity is free: the next visitor passes at once.
        second = loop.run_until_complete(backend.join(ROOM, None, None))
        assert second.state == "admitted"
    finally:
        loop.run_until_complete(backend.close())
        loop.close()


def test_a_join_refused_by_the_closing_leaves_the_room_closed(
    redis_url: str,  # noqa: F811 - the fixture
) -> None:
    """The join script closed the tickets, then returned its refusal without saving the room's
    own flags: Redis held closed tickets in a room it still counted as open."""
    setup = Setup(0.0, 6.0, 1, 30, 30, "shuffle", 200.0)
    play(redis_url, setup, [Step("join", 29.0), Step("join", 59.0), Step("join", 130.0)])
    with redis.Redis.from_url(redis_url) as client:
        meta = client.hgetall(RoomKeys(ROOM).meta)
    assert (meta[b"closed"], meta[b"nwait"]) == (b"1", b"0")
