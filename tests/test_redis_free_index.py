"""Free-slot listings through every change of a slot: hold, lapse, sweep, confirm, cancel,
release and waiting-list offers. Each scenario runs against the memory backend (the rules) and
the Redis backend, whose listings read its per-group free index; the Redis-only tests check the
index against the slots' words, across processes, and its rebuild for rooms loaded without it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio

import pyqueue
from pyqueue.backends import Backend
from pyqueue.backends.redis_backend import RedisBackend
from pyqueue.backends.redis_backend.keys import RoomKeys
from tests.redis_fixtures import SIGNER_KEYS, make_backend, redis_url  # noqa: F401 - fixture by name

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
ROOM = "kiel"
KEYS = RoomKeys(ROOM)

Setup = tuple[Backend, pyqueue.VirtualClock, Callable[..., Any]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    async for backend in make_backend(request.param, clock, url):

        async def room(backend: Backend = backend, **settings: Any) -> None:
            values: dict[str, Any] = {"admit_per_minute": 600, "max_active": 100, "seed": 2021}
            values.update(settings)
            await backend.create_room(pyqueue.RoomConfig(ROOM, OPENS_AT, **values), "test")

        yield backend, clock, room


def slot(slot_id: str, group: str, minutes: int) -> dict[str, Any]:
    starts = OPENS_AT + timedelta(days=2, minutes=minutes)
    return {"id": slot_id, "group": group, "starts_at": starts}


async def kiel_slots(backend: Backend, n: int) -> None:
    assert await backend.add_slots(ROOM, [slot(f"s{i}", "Kiel", i) for i in range(n)], "test") == n


async def listed(backend: Backend, group: str | None = None, offset: int = 0) -> list[str]:
    return [s.id for s in await backend.free_slots(ROOM, group, offset, 100)]


async def passes(backend: Backend, clock: pyqueue.VirtualClock, n: int) -> list[str]:
    clock.set(OPENS_AT + timedelta(seconds=1))
    await backend.tick(ROOM)
    tickets = [await backend.join(ROOM, None, None) for _ in range(n)]
    found = []
    for ticket in tickets:
        status = await backend.status(ROOM, ticket.token)
        assert status.pass_token is not None
        found.append(status.pass_token)
    return found


async def test_listings_follow_group_names_start_and_id_and_page(env: Setup) -> None:
    backend, _, room = env
    await room()
    # Loaded out of name order; e0 and e1 start together, so their ids order them.
    await backend.add_slots(ROOM, [slot("r0", "Rendsburg", 2), slot("r1", "Rendsburg", 1)], "t")
    await backend.add_slots(ROOM, [slot("e1", "Eutin", 0), slot("e0", "Eutin", 0)], "t")
    assert await listed(backend) == ["e0", "e1", "r1", "r0"]
    assert [s.id for s in await backend.free_slots(ROOM, None, 1, 2)] == ["e1", "r1"]
    assert await listed(backend, offset=3) == ["r0"]
    assert await listed(backend, offset=4) == []
    assert await listed(backend, "Rendsburg", 1) == ["r0"]
    assert await listed(backend, "Nowhere") == []
    assert await backend.free_slots(ROOM, None, 0, 0) == []
    first = (await backend.free_slots(ROOM, "Eutin", 0, 1))[0]
    assert (first.group, first.state, first.until) == ("Eutin", "free", None)
    assert first.starts_at == OPENS_AT + timedelta(days=2)
    assert [g.group for g in await backend.availability(ROOM)] == ["Eutin", "Rendsburg"]


async def test_listings_through_hold_lapse_sweep_confirm_cancel_and_release(env: Setup) -> None:
    backend, clock, room = env
    await room(hold_seconds=60, session_seconds=900)
    await kiel_slots(backend, 4)
    a, b = await passes(backend, clock, 2)
    await backend.hold(ROOM, "s1", a)
    assert await listed(backend) == ["s0", "s2", "s3"]
    clock.advance(61)
    # A lapsed hold is listed before any sweep: the next claim takes it over.
    assert await listed(backend) == ["s0", "s1", "s2", "s3"]
    assert await listed(backend, offset=1) == ["s1", "s2", "s3"]
    await backend.hold(ROOM, "s0", b)
    assert await listed(backend) == ["s1", "s2", "s3"]
    assert (await backend.tick(ROOM)).holds_expired == 1
    assert await listed(backend) == ["s1", "s2", "s3"]
    booking = await backend.confirm(ROOM, "s0", b)
    assert await listed(backend) == ["s1", "s2", "s3"]
    await backend.hold(ROOM, "s1", a)
    await backend.release_hold(ROOM, "s1", a)
    assert await listed(backend) == ["s1", "s2", "s3"]
    await backend.cancel(ROOM, booking.code)
    assert await listed(backend) == ["s1", "s2", "s3"]  # returned: waits for a release
    assert await backend.release(ROOM, True, "centre asked", "anna") == 1
    assert await listed(backend) == ["s0", "s1", "s2", "s3"]
    groups = await backend.availability(ROOM)
    assert [(g.free, g.held, g.booked, g.returned) for g in groups] == [(4, 0, 0, 0)]


async def test_offered_slots_are_not_listed_nor_claimable_until_freed(env: Setup) -> None:
    backend, clock, room = env
    # Two bookings each, so that the first booking does not end the visitor's session.
    await room(
        returned_slots="waitlist",
        max_active=1,
        offer_seconds=60,
        session_seconds=900,
        max_bookings_per_identity=2,
    )
    await kiel_slots(backend, 2)
    (a,) = await passes(backend, clock, 1)
    waiting = await backend.join(ROOM, None, None)
    await backend.hold(ROOM, "s0", a)
    await backend.cancel(ROOM, (await backend.confirm(ROOM, "s0", a)).code)
    offer = (await backend.status(ROOM, waiting.token)).offer
    assert offer is not None and offer.slot == "s0"
    assert await listed(backend) == ["s1"]
    with pytest.raises(pyqueue.SlotTaken) as taken:
        await backend.hold(ROOM, "s0", a)
    assert list(taken.value.alternatives) == ["s1"]
    await backend.pause(ROOM, "anna")  # keeps the waiting visitor waiting
    clock.advance(61)
    # The offer lapsed but was not swept: still not free.
    assert await listed(backend) == ["s1"]
    with pytest.raises(pyqueue.SlotTaken):
        await backend.hold(ROOM, "s0", a)
    # The sweep finds nobody after the one it was offered to: the slot is free.
    await backend.tick(ROOM)
    assert await listed(backend) == ["s0", "s1"]
    assert (await backend.hold(ROOM, "s0", a)).slot == "s0"


async def test_a_waiting_visitor_can_confirm_an_offer_that_was_listed_as_taken(env: Setup) -> None:
    backend, clock, room = env
    await room(returned_slots="waitlist", max_active=1, offer_seconds=60, session_seconds=900)
    await kiel_slots(backend, 3)
    (a,) = await passes(backend, clock, 1)
    waiting = await backend.join(ROOM, None, None)
    await backend.hold(ROOM, "s2", a)
    await backend.cancel(ROOM, (await backend.confirm(ROOM, "s2", a)).code)
    assert await listed(backend) == ["s0", "s1"]
    booking = await backend.confirm(ROOM, "s2", waiting.token)
    assert booking.slot == "s2"
    assert await listed(backend) == ["s0", "s1"]
    await backend.cancel(ROOM, booking.code)  # nobody waits any more: free at once
    assert await listed(backend) == ["s0", "s1", "s2"]


# ----- Redis only: the index itself -------------------------------------------------------------


# The client is typed loosely: its replies' declared unions do not narrow to bytes.
async def free_words(client: Any) -> dict[str, list[str]]:
    """Per group, the free slots by the slots' own words, in listing order."""
    words = await client.hgetall(KEYS.slots)
    found: dict[str, list[tuple[int, str]]] = {}
    for slot_id, word in words.items():
        if word.split(b"|")[0] == b"free":
            starts, _, group = (await client.hget(KEYS.slot_info, slot_id)).partition(b"|")
            found.setdefault(group.decode(), []).append((int(starts), slot_id.decode()))
    return {group: [i for _, i in sorted(ids)] for group, ids in found.items()}


async def indexed(client: Any) -> dict[str, list[str]]:
    """Per group, the free slots as the index lists them."""
    found: dict[str, list[str]] = {}
    for member in await client.zrange(KEYS.free, 0, -1):
        group, _, rest = member.partition(b"\0")
        found.setdefault(group.decode(), []).append(rest[17:].decode())
    return found


@pytest.mark.redis
async def test_the_index_is_the_free_words_and_survives_another_process(redis_url: str) -> None:  # noqa: F811
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    async for backend in make_backend("redis", clock, redis_url):
        config = pyqueue.RoomConfig(
            ROOM, OPENS_AT, max_active=10, hold_seconds=60, max_bookings_per_identity=2, seed=1
        )
        await backend.create_room(config, "test")
        await backend.add_slots(ROOM, [slot(f"k{i}", "Kiel", i % 3) for i in range(6)], "t")
        await backend.add_slots(ROOM, [slot(f"e{i}", "Eutin", i) for i in range(3)], "t")
        a, b, c = await passes(backend, clock, 3)
        await backend.hold(ROOM, "k1", a)
        await backend.hold(ROOM, "e0", b)
        code = (await backend.confirm(ROOM, "e0", b)).code
        await backend.hold(ROOM, "k4", c)
        clock.advance(61)
        await backend.tick(ROOM)  # a's and c's holds lapse and are swept
        await backend.cancel(ROOM, code)
        await backend.release(ROOM, True, "test", "anna")
        await backend.hold(ROOM, "k0", a)
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            assert await indexed(client) == await free_words(client)
        finally:
            await client.aclose()
        expected = await listed(backend)
        assert expected == ["e0", "e1", "e2", "k3", "k1", "k4", "k2", "k5"]
        # Another process (or this one after a restart) reads the same state from Redis.
        other = RedisBackend(redis_url, pyqueue.Signer(SIGNER_KEYS), clock, refresh_seconds=0.0)
        await other.start()
        try:
            assert await listed(other) == expected
            assert await other.availability(ROOM) == await backend.availability(ROOM)
            await other.hold(ROOM, "e1", b)
            # The first process sees the other's claim in its listing and counts.
            assert "e1" not in await listed(backend)
            assert [g.held for g in await backend.availability(ROOM)] == [1, 1]
        finally:
            await other.close()


@pytest.mark.redis
async def test_a_room_loaded_without_the_index_gets_it_built(redis_url: str) -> None:  # noqa: F811
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    async for backend in make_backend("redis", clock, redis_url):
        await backend.create_room(pyqueue.RoomConfig(ROOM, OPENS_AT, seed=1), "test")
        await backend.add_slots(ROOM, [slot("r0", "Rendsburg", 1), slot("k0", "Kiel", 0)], "t")
        (a,) = await passes(backend, clock, 1)
        await backend.hold(ROOM, "k0", a)
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            # As the keys of a room written before the index existed.
            await client.delete(KEYS.free)
            await client.hdel(KEYS.meta, "free_index")
            assert await listed(backend) == ["r0"]
            assert await indexed(client) == await free_words(client) == {"Rendsburg": ["r0"]}
            await backend.release_hold(ROOM, "k0", a)
            assert await listed(backend) == ["k0", "r0"]
        finally:
            await client.aclose()


async def test_slots_before_2000_are_refused_and_the_earliest_are_listed_first(env: Setup) -> None:
    backend, _, room = env
    await room()
    for moon in (datetime(1969, 7, 20, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, tzinfo=UTC)):
        early = {"id": "old", "group": "Kiel", "starts_at": moon}
        with pytest.raises(pyqueue.InvalidArgument, match='slot "old": starts_at must be between'):
            await backend.add_slots(ROOM, [slot("new", "Kiel", 0), early], "t")
    assert await listed(backend) == []
    early = {"id": "old", "group": "Kiel", "starts_at": datetime(2001, 1, 1, tzinfo=UTC)}
    earliest = {"id": "older", "group": "Kiel", "starts_at": datetime(2000, 1, 1, tzinfo=UTC)}
    await backend.add_slots(ROOM, [slot("new", "Kiel", 0), early, earliest], "t")
    assert await listed(backend) == ["older", "old", "new"]
    assert (await backend.free_slots(ROOM, "Kiel", 0, 1))[0].starts_at == earliest["starts_at"]


@pytest.mark.redis
async def test_a_group_name_with_nul_is_refused(redis_url: str) -> None:  # noqa: F811
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    async for backend in make_backend("redis", clock, redis_url):
        await backend.create_room(pyqueue.RoomConfig(ROOM, OPENS_AT, seed=1), "test")
        with pytest.raises(pyqueue.InvalidArgument):
            await backend.add_slots(ROOM, [slot("k0", "Ki\0el", 0)], "t")
        assert await listed(backend) == []


async def free_and_held(backend: Backend) -> list[tuple[int, int]]:
    return [(g.free, g.held) for g in await backend.availability(ROOM)]


@pytest.mark.redis
async def test_counts_follow_this_process_changes_at_once_however_long_they_are_kept(
    redis_url: str,  # noqa: F811
) -> None:
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    async for fresh in make_backend("redis", clock, redis_url):
        await fresh.create_room(pyqueue.RoomConfig(ROOM, OPENS_AT, hold_seconds=60, seed=1), "t")
        await fresh.add_slots(ROOM, [slot(f"k{i}", "Kiel", i) for i in range(3)], "t")
        # Counts kept an hour: only this process's own changes make it read them again.
        backend = RedisBackend(redis_url, pyqueue.Signer(SIGNER_KEYS), clock, refresh_seconds=3600)
        await backend.start()
        try:
            (a,) = await passes(backend, clock, 1)
            assert await listed(backend) == ["k0", "k1", "k2"]
            assert await free_and_held(backend) == [(3, 0)]  # came with the listing
            await backend.hold(ROOM, "k1", a)
            assert await free_and_held(backend) == [(2, 1)]
            assert await listed(backend) == ["k0", "k2"]
            assert await free_and_held(backend) == [(2, 1)]
            clock.advance(61)
            assert (await backend.tick(ROOM)).holds_expired == 1
            assert await free_and_held(backend) == [(3, 0)]
            # Another process's change shows once the kept counts are due: here, the fixture's.
            await fresh.hold(ROOM, "k2", a)
            assert await free_and_held(fresh) == [(2, 1)]
        finally:
            await backend.close()
