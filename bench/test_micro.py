"""Micro benchmarks: each core operation through the Python API, beside the same operation of
the plain-Python reference (``bench/reference.py``) in the same run, so that their ratio holds up
better than either figure alone on a busy machine. ``make bench`` runs them, and
``python -m bench.report`` prints the table.

Every benchmark runs a fixed number of operations per round and records it as
``extra_info["ops"]``; the report divides it by the best round's time. Time only moves when a
benchmark moves the virtual clock.
"""

from __future__ import annotations

import os
import random
import threading
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

import pyqueue
from bench import reference

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
SECRET = "a-bench-secret-of-32-bytes-long!"
# Best of many short rounds: on a shared machine some rounds are slowed by other work, and the
# fastest one is the least disturbed. The core's rounds are cheap, so it gets more of them.
ROUNDS = {"core": 15, "reference": 5}

JOINS = 20_000
WAITING = 100_000
STATUS_READS = 50_000
TICK_QUEUE = 200_000
TICKS = 100
PAIRS = 20_000
CLAIMS_PER_THREAD = 20_000
CONTENDED_SLOTS = 16
PASSES_PER_THREAD = 1_000

IMPLEMENTATIONS: dict[str, ModuleType] = {"core": pyqueue, "reference": reference}


@pytest.fixture(params=list(IMPLEMENTATIONS), scope="module")
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return IMPLEMENTATIONS[request.param]


def make_room(impl: ModuleType, clock: Any, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "admit_per_minute": 600,
        "max_active": 1_000_000,
        "session_seconds": 3600,
        "heartbeat_timeout_seconds": 600,
        "seed": 2021,
    }
    settings.update(overrides)
    config = impl.RoomConfig("kiel", OPENS_AT, **settings)
    return impl.Room(config, impl.Signer({"k1": SECRET}), clock)


def waiting_room(impl: ModuleType, size: int, **overrides: Any) -> tuple[Any, Any, list[Any]]:
    """A room that opened with ``size`` tickets from the pre-queue, all still waiting."""
    clock = impl.VirtualClock(OPENS_AT - timedelta(hours=1))
    room = make_room(impl, clock, **overrides)
    tickets = [room.join(f"phone:+49 170 {i:07d}") for i in range(size)]
    clock.set(OPENS_AT)
    # At the opening instant nothing has accrued yet: the draw happens, nobody is admitted.
    assert room.tick() == 0
    return room, clock, tickets


def admitted_room(
    impl: ModuleType, visitors: int, slots: int, groups: int
) -> tuple[Any, list[str]]:
    """A room with ``visitors`` admitted visitors (their passes) and ``slots`` free slots."""
    room, clock, tickets = waiting_room(impl, visitors, admit_per_minute=60 * visitors)
    clock.advance(1)
    assert room.tick() == visitors
    passes = [room.status(t.token).pass_token for t in tickets]
    starts = [OPENS_AT + timedelta(days=1, minutes=i // groups) for i in range(slots)]
    room.add_slots(
        [
            (f"centre-{i % groups}-slot-{i:07d}", f"centre-{i % groups}", starts[i])
            for i in range(slots)
        ]
    )
    return room, passes


def rounds(impl: ModuleType) -> int:
    return ROUNDS["core" if impl is pyqueue else "reference"]


def record(benchmark: Any, ops: int, unit: str) -> None:
    benchmark.extra_info["ops"] = ops
    benchmark.extra_info["unit"] = unit
    # Other work on the machine slows every figure: the report shows how busy it was.
    benchmark.extra_info["load_average"] = os.getloadavg()[0]


# ----- join ---------------------------------------------------------------------------------


@pytest.mark.benchmark(group="join")
def test_join(benchmark: Any, impl: ModuleType) -> None:
    """Joins with an identity into an open room that queues everyone: dedupe lookup, FIFO
    enqueue, waiting index, and the signed ticket token."""
    identities = [f"phone:+49 170 {i:07d}" for i in range(JOINS)]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        room = make_room(impl, impl.VirtualClock(OPENS_AT + timedelta(seconds=1)))
        room.queue_all()
        return (room,), {}

    def run(room: Any) -> None:
        join = room.join
        for identity in identities:
            join(identity)

    benchmark.pedantic(run, setup=setup, rounds=rounds(impl))
    record(benchmark, JOINS, "joins")


# ----- status -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy_room(impl: ModuleType) -> tuple[Any, list[str]]:
    room, _, tickets = waiting_room(impl, WAITING)
    picks = random.Random(7).choices(tickets, k=STATUS_READS)
    return room, [t.token for t in picks]


@pytest.mark.benchmark(group="status")
def test_status(benchmark: Any, impl: ModuleType, busy_room: tuple[Any, list[str]]) -> None:
    """Status polls of random tickets among 100,000 waiting: verify the token, heartbeat,
    place (Fenwick tree) and wait estimate."""
    room, tokens = busy_room

    def run() -> None:
        status = room.status
        for token in tokens:
            status(token)

    benchmark.pedantic(run, rounds=rounds(impl), warmup_rounds=1)
    record(benchmark, len(tokens), "reads")


@pytest.mark.benchmark(group="status+fields")
def test_status_fields(benchmark: Any, impl: ModuleType, busy_room: tuple[Any, list[str]]) -> None:
    """The same polls, reading what a waiting-room page shows: state, place and estimate."""
    room, tokens = busy_room

    def run() -> None:
        status = room.status
        for token in tokens:
            s = status(token)
            eta = s.eta
            _ = (s.state, s.ahead, eta.low, eta.seconds, eta.high, eta.known)

    benchmark.pedantic(run, rounds=rounds(impl), warmup_rounds=1)
    record(benchmark, len(tokens), "reads")


# ----- tick ---------------------------------------------------------------------------------


@pytest.mark.benchmark(group="tick")
def test_tick(benchmark: Any, impl: ModuleType) -> None:
    """Admission ticks every 100 ms of virtual time at 1,000 admissions a second (100 a tick)
    from a queue of 200,000 (enough for every round)."""
    room, clock, _ = waiting_room(impl, TICK_QUEUE, admit_per_minute=60_000)

    def run() -> None:
        advance, tick = clock.advance, room.tick
        for _ in range(TICKS):
            advance(0.1)
            tick()

    benchmark.pedantic(run, rounds=rounds(impl))
    record(benchmark, TICKS, "ticks")
    benchmark.extra_info["admitted_per_tick"] = 100


# ----- slots --------------------------------------------------------------------------------


@pytest.mark.benchmark(group="hold+confirm")
def test_hold_confirm(benchmark: Any, impl: ModuleType) -> None:
    """Uncontended hold + confirm pairs, each for another admitted visitor and slot: verify the
    pass, claim, book with a fresh code, and end the visitor's session."""

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        room, passes = admitted_room(impl, PAIRS, PAIRS, groups=40)
        slot_ids = [s.id for s in room.free_slots(limit=PAIRS)]
        return (room, list(zip(slot_ids, passes, strict=True))), {}

    def run(room: Any, pairs: list[tuple[str, str]]) -> None:
        hold, confirm = room.hold, room.confirm
        for slot_id, pass_token in pairs:
            confirm(hold(slot_id, pass_token))

    benchmark.pedantic(run, setup=setup, rounds=rounds(impl))
    record(benchmark, PAIRS, "pairs")


@pytest.mark.benchmark(group="contended-claims")
def test_contended_claims(benchmark: Any, impl: ModuleType) -> None:
    """Two threads claim the same 16 slots with distinct passes, a fixed count each; nearly
    every claim loses and gets ``SlotTaken`` with alternatives."""
    taken = impl.SlotTaken

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        room, passes = admitted_room(impl, 2 * PASSES_PER_THREAD, CONTENDED_SLOTS, groups=4)
        slot_ids = [s.id for s in room.free_slots(limit=CONTENDED_SLOTS)]
        return (room, slot_ids, passes[0::2], passes[1::2]), {}

    def claimer(room: Any, slot_ids: list[str], passes: list[str], start: Any, wins: list[int]):
        hold = room.hold
        slots, visitors = len(slot_ids), len(passes)
        start.wait()
        won = 0
        for k in range(CLAIMS_PER_THREAD):
            try:
                hold(slot_ids[k % slots], passes[k % visitors])
                won += 1
            except taken:
                pass
        wins.append(won)

    def run(room: Any, slot_ids: list[str], *pass_lists: list[str]) -> None:
        start = threading.Barrier(len(pass_lists))
        wins: list[int] = []
        threads = [
            threading.Thread(target=claimer, args=(room, slot_ids, passes, start, wins))
            for passes in pass_lists
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == len(threads)

    benchmark.pedantic(run, setup=setup, rounds=rounds(impl))
    record(benchmark, 2 * CLAIMS_PER_THREAD, "claims")


# ----- the reference agrees with the core ---------------------------------------------------


def test_reference_agrees_with_the_core() -> None:
    """Not a benchmark: the baseline must follow the same rules, or the ratios mean nothing."""
    for n, seed in [(0, 1), (1, 5), (2, 0), (10, 42), (1000, 2021), (5000, 2**64 - 1)]:
        assert reference.draw_order(n, seed) == pyqueue.draw_order(n, seed)

    signers = [impl.Signer({"k1": SECRET}) for impl in (pyqueue, reference)]
    claims = ("pass", "kiel", 123_456, 1_620_622_800, 1_620_623_700)
    assert signers[0].sign(*claims) == signers[1].sign(*claims)

    rooms, clocks, tickets = {}, {}, {}
    for name, impl in IMPLEMENTATIONS.items():
        clocks[name] = impl.VirtualClock(OPENS_AT - timedelta(minutes=10))
        rooms[name] = make_room(
            impl,
            clocks[name],
            admit_per_minute=600,
            max_active=50,
            session_seconds=30,
            heartbeat_timeout_seconds=15,
        )
        rooms[name].queue_all(False)
        tickets[name] = [rooms[name].join(f"id-{i}") for i in range(300)]
        # The same identity gets the same ticket.
        assert rooms[name].join("id-7").id == tickets[name][7].id
    assert [t.token for t in tickets["core"]] == [t.token for t in tickets["reference"]]

    polled = range(0, 300, 3)  # the others stop polling and are skipped after the timeout
    for step in range(120):
        admitted = {}
        for name in IMPLEMENTATIONS:
            clocks[name].set(OPENS_AT + timedelta(seconds=step))
            for i in polled:
                rooms[name].status(tickets[name][i].token)
            admitted[name] = rooms[name].tick()
        assert admitted["core"] == admitted["reference"], f"step {step}"
        if step % 20 == 0:
            views = {
                name: [rooms[name].status(t.token) for t in tickets[name]]
                for name in IMPLEMENTATIONS
            }
            for core, ref in zip(views["core"], views["reference"], strict=True):
                assert (core.state, core.ahead, core.pass_token) == (
                    ref.state,
                    ref.ahead,
                    ref.pass_token,
                )
                assert core.eta.seconds == pytest.approx(ref.eta.seconds)
    assert rooms["core"].draw().order == reference_draw_order(rooms["reference"])


def reference_draw_order(room: Any) -> list[int]:
    draw = room.draw()
    return [draw.joined[i] for i in reference.draw_order(len(draw.joined), draw.seed)]


def test_reference_inventory_agrees_with_the_core() -> None:
    """Claims, losers' alternatives, limits and confirmations come out the same."""
    outcomes = {}
    for name, impl in IMPLEMENTATIONS.items():
        room, passes = admitted_room(impl, 4, 12, groups=2)
        log: list[Any] = []
        attempts = [(0, 0), (1, 0), (1, 2), (0, 4), (2, 2), (3, 1), (3, 3)]
        for visitor, slot in attempts:
            slot_id = f"centre-{slot % 2}-slot-{slot:07d}"
            try:
                hold = room.hold(slot_id, passes[visitor])
                log.append(("held", hold.slot, hold.ticket))
            except impl.SlotTaken as e:
                log.append(("taken", e.slot, list(e.alternatives)))
            except impl.LimitReached as e:
                log.append(("limit", e.limit))
        booking = room.confirm(room.hold("centre-0-slot-0000000", passes[0]))
        log.append(("booked", booking.slot, booking.ticket, len(booking.code)))
        outcomes[name] = log
    assert outcomes["core"] == outcomes["reference"]
