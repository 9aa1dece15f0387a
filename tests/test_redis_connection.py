"""The Redis connection under load and in replication: many concurrent requests wait for a
pooled connection instead of failing; a write refused by a replica is "unavailable", not an
internal error; holds, bookings and cancels are answered only once a replica has them."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

import pyqueue
from pyqueue.backends import BackendUnavailable
from pyqueue.backends.redis_backend import RedisBackend
from pyqueue.backends.redis_backend.connection import RedisOptions
from pyqueue.backends.redis_backend.keys import RoomKeys
from tests.redis_fixtures import SIGNER_KEYS, flush, redis_url  # noqa: F401 - fixture by name
from tests.redis_support import RedisServer, needs_redis, start_replica, wait_until

pytestmark = [pytest.mark.redis, needs_redis]

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
ROOM = "kiel"


def backend_on(url: str, clock: pyqueue.VirtualClock, **options: int | float) -> RedisBackend:
    return RedisBackend(
        url,
        pyqueue.Signer(SIGNER_KEYS),
        clock,
        refresh_seconds=0.0,
        **({"options": RedisOptions(**options)} if options else {}),  # type: ignore[arg-type]
    )


async def room_with_passes(backend: RedisBackend, clock: pyqueue.VirtualClock, n: int) -> list[str]:
    """A room with ``n`` slots and ``n`` admitted visitors; their passes."""
    config = pyqueue.RoomConfig(ROOM, OPENS_AT, admit_per_minute=60_000, max_active=n, seed=7)
    await backend.create_room(config, "test")
    starts = OPENS_AT + timedelta(days=2)
    slots = [{"id": f"s{i}", "group": "Kiel", "starts_at": starts} for i in range(n)]
    await backend.add_slots(ROOM, slots, "test")
    clock.set(OPENS_AT + timedelta(seconds=1))
    await backend.tick(ROOM)
    tickets = await asyncio.gather(*(backend.join(ROOM, None, None) for _ in range(n)))
    passes = []
    for ticket in tickets:
        status = await backend.status(ROOM, ticket.token)
        assert status.pass_token is not None
        passes.append(status.pass_token)
    return passes


@pytest.fixture
def single(request: pytest.FixtureRequest) -> str:
    """The URL of the session's Redis server, emptied."""
    url = str(request.getfixturevalue("redis_url"))
    flush(url)
    return url


def clients_of(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return len(client.client_list(_type="normal")) - 1  # without this one


# ----- the pool ---------------------------------------------------------------------------------


async def test_three_hundred_concurrent_holds_and_bookings_all_succeed(single: str) -> None:
    # redis-py's default pool fails at once beyond 100 connections ("Too many connections"):
    # here with the defaults, 300 visitors hold and book at the same moment while Redis is fine.
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = backend_on(single, clock)
    await backend.start()
    try:
        passes = await room_with_passes(backend, clock, 300)
        holds = await asyncio.gather(
            *(backend.hold(ROOM, f"s{i}", p) for i, p in enumerate(passes)), return_exceptions=True
        )
        assert [h for h in holds if isinstance(h, BaseException)] == []
        bookings = await asyncio.gather(
            *(backend.confirm(ROOM, f"s{i}", p) for i, p in enumerate(passes)),
            return_exceptions=True,
        )
        assert [b for b in bookings if isinstance(b, BaseException)] == []
        assert len({b.code for b in bookings if not isinstance(b, BaseException)}) == 300
    finally:
        await backend.close()


async def test_a_small_pool_serves_many_concurrent_requests_with_few_connections(
    single: str,
) -> None:
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = backend_on(single, clock, pool_size=4)
    await backend.start()
    try:
        passes = await room_with_passes(backend, clock, 200)
        holds = await asyncio.gather(
            *(backend.hold(ROOM, f"s{i}", p) for i, p in enumerate(passes)), return_exceptions=True
        )
        assert [h for h in holds if isinstance(h, BaseException)] == []
        assert clients_of(single) <= 4
    finally:
        await backend.close()


async def test_a_request_waiting_too_long_for_a_connection_is_unavailable(single: str) -> None:
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = backend_on(single, clock, pool_size=1, pool_timeout_seconds=0.2)
    await backend.start()
    try:
        passes = await room_with_passes(backend, clock, 2)
        # The only connection is busy for a second (a blocking read): the hold waits 0.2 s
        # for it, then gives up with the answer a lost Redis gets.
        blocking = asyncio.ensure_future(backend.conn.call("BLPOP", "nothing-comes", 1))
        await asyncio.sleep(0.05)
        with pytest.raises(BackendUnavailable, match=r"(?i)no connection available"):
            await backend.hold(ROOM, "s0", passes[0])
        await blocking
        assert (await backend.hold(ROOM, "s0", passes[0])).slot == "s0"
    finally:
        await backend.close()


# ----- replication ------------------------------------------------------------------------------


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    primary = RedisServer(tmp_path / "primary").start()
    replica: RedisServer | None = None
    try:
        replica = start_replica(tmp_path / "replica", primary)
        yield primary, replica
    finally:
        if replica is not None:
            resume(replica)
            replica.stop()
        primary.stop()


def pause(server: RedisServer) -> None:
    """The server stops answering (and acknowledging replication) but stays connected."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)


def resume(server: RedisServer) -> None:
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)


def replica_has(replica: RedisServer, code: str) -> bool:
    with redis.Redis.from_url(replica.url) as client:
        return client.hget(RoomKeys(ROOM).prefix + "codes", code) is not None


async def test_a_write_refused_by_a_replica_is_unavailable_not_an_error(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = replicated
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = backend_on(primary.url, clock)
    await backend.start()
    on_replica = backend_on(replica.url, clock)  # as a process still on a demoted primary
    await on_replica.start()
    try:
        passes = await room_with_passes(backend, clock, 1)
        wait_until(lambda: replica_keys(replica), "the room on the replica")
        with pytest.raises(BackendUnavailable, match="read only replica"):
            await on_replica.hold(ROOM, "s0", passes[0])
        with pytest.raises(BackendUnavailable):
            await on_replica.join(ROOM, None, None)
    finally:
        await on_replica.close()
        await backend.close()


def replica_has_cancelled(replica: RedisServer, code: str) -> bool:
    with redis.Redis.from_url(replica.url) as client:
        return client.hget(RoomKeys(ROOM).cancelled, code) is not None


def replica_keys(replica: RedisServer) -> bool:
    with redis.Redis.from_url(replica.url) as client:
        return bool(client.exists(RoomKeys(ROOM).prefix + "slots"))


async def test_a_booking_is_answered_only_once_a_replica_has_it(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = replicated
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = backend_on(primary.url, clock, wait_timeout_ms=1000)
    other = backend_on(primary.url, clock, wait_timeout_ms=1000)  # another server process
    await backend.start()
    await other.start()
    try:
        passes = await room_with_passes(backend, clock, 3)
        booked = await backend.confirm(ROOM, "s0", (await hold(backend, "s0", passes[0])))
        assert replica_has(replica, booked.code)

        await hold(backend, "s1", passes[1])
        pause(replica)
        # Holds and cancels wait for the replica as bookings do.
        with pytest.raises(BackendUnavailable, match="replicas acknowledged"):
            await backend.hold(ROOM, "s2", passes[2])
        with pytest.raises(BackendUnavailable, match="replicas acknowledged"):
            await backend.cancel(ROOM, booked.code)
        # The replica does not acknowledge: the booking is made on the primary but not
        # answered as confirmed, neither here nor when asked again from another process.
        with pytest.raises(BackendUnavailable, match="replicas acknowledged"):
            await backend.confirm(ROOM, "s1", passes[1])
        with pytest.raises(BackendUnavailable, match="replicas acknowledged"):
            await other.confirm(ROOM, "s1", passes[1])
        resume(replica)
        # Asked again once the replica is back: the booking made before, with its code.
        again = await other.confirm(ROOM, "s1", passes[1])
        assert replica_has(replica, again.code)
        assert (await backend.booking(ROOM, again.code)).slot == "s1"
        assert (await other.hold(ROOM, "s2", passes[2])).slot == "s2"
        # The cancel answered 503 was applied: its code answers with the cancellation, and
        # asked again once the replica is back, so does the cancel (not cancelled now).
        assert (await backend.booking(ROOM, booked.code)).state == "cancelled"
        cancelled, cancelled_now = await other.cancel(ROOM, booked.code)
        assert (cancelled.state, cancelled_now) == ("cancelled", False)
        assert not replica_has(replica, booked.code)
        assert replica_has_cancelled(replica, booked.code)
    finally:
        await other.close()
        await backend.close()


async def test_a_repeated_cancel_writes_again(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    # A repetition answers what was done before and writes its record again, unchanged (as a
    # repeated hold or booking does), so that the WAIT sent after it on its connection also
    # covers the first write, made on another connection (Redis documents WAIT as covering
    # the writes of its own connection).
    primary, _ = replicated
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = backend_on(primary.url, clock)
    await backend.start()
    try:
        passes = await room_with_passes(backend, clock, 1)
        await backend.hold(ROOM, "s0", passes[0])
        booked = await backend.confirm(ROOM, "s0", passes[0])
        await backend.cancel(ROOM, booked.code)
        with redis.Redis.from_url(primary.url) as client:
            client.config_resetstat()
            cancelled, cancelled_now = await backend.cancel(ROOM, booked.code)
            writes = client.info("commandstats").get("cmdstat_hset", {}).get("calls", 0)
        assert (cancelled.state, cancelled_now, writes) == ("cancelled", False, 1)
    finally:
        await backend.close()


async def hold(backend: RedisBackend, slot: str, pass_token: str) -> str:
    await backend.hold(ROOM, slot, pass_token)
    return pass_token


async def test_without_connected_replicas_writes_do_not_wait(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    # The primary left alone (its replica gone): bookings go on rather than all failing.
    primary, replica = replicated
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = backend_on(primary.url, clock, wait_timeout_ms=1000)
    await backend.start()
    try:
        passes = await room_with_passes(backend, clock, 2)
        await backend.confirm(ROOM, "s0", await hold(backend, "s0", passes[0]))
        replica.stop()
        wait_until(lambda: primary_replicas(primary) == 0, "the primary seeing its replica go")
        await soon(lambda: backend.hold(ROOM, "s1", passes[1]))
        booked = await soon(lambda: backend.confirm(ROOM, "s1", passes[1]))
        assert booked.slot == "s1"
    finally:
        await backend.close()


def primary_replicas(primary: RedisServer) -> int:
    with redis.Redis.from_url(primary.url) as client:
        return int(client.info("replication")["connected_slaves"])


async def soon(write: Callable[[], Awaitable[Any]]) -> Any:
    """The write's answer once the backend has read that no replica is connected: within a
    second of a write that found fewer replicas than it expected."""
    for _ in range(100):
        try:
            return await write()
        except BackendUnavailable:
            await asyncio.sleep(0.1)
    raise AssertionError("the write never went through")
