"""The Backend protocol's contract, run against every backend this build has.

A Redis backend joins ``BACKENDS`` and must pass the same tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

import pyqueue
from pyqueue.backends import Backend, UnknownRoom
from pyqueue.backends.memory import MemoryBackend

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
SIGNER_KEYS = {"k1": "a-test-secret-of-32-bytes-length!"}


async def memory(clock: pyqueue.VirtualClock) -> Backend:
    return MemoryBackend(pyqueue.Signer(SIGNER_KEYS), clock)


BACKENDS: dict[str, Callable[[pyqueue.VirtualClock], Awaitable[Backend]]] = {"memory": memory}


@pytest.fixture(params=sorted(BACKENDS))
async def setup(request):
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = await BACKENDS[request.param](clock)
    await backend.start()
    config = pyqueue.RoomConfig("kiel", OPENS_AT, max_active=1, seed=7)
    await backend.create_room(config, "test")
    await backend.add_slots(
        "kiel",
        [
            {"id": f"s{i}", "group": "Kiel", "starts_at": OPENS_AT + timedelta(days=2, minutes=i)}
            for i in range(3)
        ],
        "test",
    )
    yield backend, clock
    await backend.close()


async def test_rooms(setup):
    backend, clock = setup
    assert await backend.ready()
    assert await backend.room_ids() == ["kiel"]
    assert (await backend.room_config("kiel")).max_active == 1
    with pytest.raises(pyqueue.InvalidConfig):
        await backend.create_room(pyqueue.RoomConfig("kiel", OPENS_AT), "test")
    changed = pyqueue.RoomConfig("kiel", OPENS_AT, max_active=3, seed=7)
    await backend.update_room(changed, "anna")
    assert (await backend.room_config("kiel")).max_active == 3
    assert (await backend.room_info("kiel")).state == "prequeue"
    assert await backend.draw("kiel") is None
    assert backend.now() == pytest.approx(clock.timestamp())
    await backend.pause("kiel", "anna")
    await backend.resume("kiel", "anna")
    await backend.queue_all("kiel", True, "anna")
    actions = [(e.action, e.actor) for e in await backend.audit_log("kiel")]
    assert ("pause", "anna") in actions and ("queue_all_on", "anna") in actions


async def test_a_visitor_through_the_protocol(setup):
    backend, clock = setup
    ticket = await backend.join("kiel", "id:1", None)
    assert (await backend.join("kiel", "id:1", None)).id == ticket.id
    assert (await backend.join("kiel", None, ticket.token)).id == ticket.id
    assert (await backend.status("kiel", ticket.token)).state == "prequeue"
    clock.set(OPENS_AT)
    await backend.tick("kiel")
    clock.advance(1)
    report = await backend.tick("kiel")
    assert report.admitted == 1
    status = await backend.status("kiel", ticket.token)
    assert status.state == "admitted" and status.pass_token
    with pytest.raises(pyqueue.TokenWrongKind):
        await backend.status("kiel", status.pass_token)
    with pytest.raises(pyqueue.TokenWrongKind):
        await backend.join("kiel", None, status.pass_token)
    info = await backend.verify_pass("kiel", status.pass_token)
    assert info.ticket == ticket.id
    free = await backend.free_slots("kiel", "Kiel", 0, 2)
    assert [s.id for s in free] == ["s0", "s1"]
    assert (await backend.availability("kiel"))[0].free == 3
    hold = await backend.hold("kiel", "s1", status.pass_token)
    assert hold.slot == "s1"
    await backend.release_hold("kiel", "s1", status.pass_token)
    await backend.hold("kiel", "s2", status.pass_token)
    booking = await backend.confirm("kiel", "s2", status.pass_token)
    assert (await backend.booking("kiel", booking.code)).slot == "s2"
    assert (await backend.cancel("kiel", booking.code))[0].slot == "s2"
    with pytest.raises(pyqueue.ReleaseRefused):
        await backend.release("kiel", False, None, "anna")
    assert await backend.release("kiel", True, "test", "anna") == 1
    with pytest.raises(pyqueue.NoOffer):
        await backend.decline_offer("kiel", ticket.token)


async def test_leave_and_complete(setup):
    backend, clock = setup
    clock.set(OPENS_AT + timedelta(seconds=1))
    await backend.tick("kiel")
    first = await backend.join("kiel", None, None)
    second = await backend.join("kiel", None, None)
    pass_token = (await backend.status("kiel", first.token)).pass_token
    assert pass_token
    await backend.complete("kiel", pass_token)
    assert await backend.leave("kiel", second.token) in ("waiting", "admitted")


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("room_config", ()),
        ("room_info", ()),
        ("draw", ()),
        ("tick", ()),
        ("pause", ("a",)),
        ("resume", ("a",)),
        ("queue_all", (True, "a")),
        ("audit_log", ()),
        ("join", (None, None)),
        ("status", ("t",)),
        ("leave", ("t",)),
        ("complete", ("t",)),
        ("verify_pass", ("t",)),
        ("add_slots", ([], "a")),
        ("availability", ()),
        ("free_slots", (None, 0, 1)),
        ("hold", ("s", "t")),
        ("confirm", ("s", "t")),
        ("release_hold", ("s", "t")),
        ("decline_offer", ("t",)),
        ("booking", ("c",)),
        ("cancel", ("c",)),
        ("release", (False, None, "a")),
    ],
)
async def test_an_unknown_room_is_named(setup, method, args):
    backend, _ = setup
    with pytest.raises(UnknownRoom) as error:
        await getattr(backend, method)("nowhere", *args)
    assert error.value.code == "unknown_room"
    assert isinstance(error.value, pyqueue.PyqueueError)


async def test_a_forged_pass_on_status_gets_the_precise_error(setup):
    backend, _ = setup
    forged = pyqueue.Signer({"k1": "another-secret-of-32-bytes-long!!"}).sign(
        "pass", "kiel", 0, 0, 2_000_000_000
    )
    with pytest.raises(pyqueue.TokenBadSignature):
        await backend.status("kiel", forged)
