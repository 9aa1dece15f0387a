"""The Redis backend on a three-master Redis Cluster on loopback ports: every key of a room
shares its hash tag, so each script runs on one node; rooms spread over the nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

import pyqueue
from pyqueue.backends.redis_backend import RedisBackend
from pyqueue.backends.redis_backend.connection import RedisOptions
from pyqueue.backends.redis_backend.keys import RoomKeys
from tests.redis_fixtures import SIGNER_KEYS
from tests.redis_support import RedisServer, needs_redis, redis_cluster

pytestmark = [pytest.mark.redis, pytest.mark.slow, needs_redis]

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    with redis_cluster(Path(tmp_path_factory.mktemp("cluster"))) as nodes:
        yield nodes


@pytest.fixture
async def backend(
    cluster: list[RedisServer],
) -> AsyncIterator[tuple[RedisBackend, pyqueue.VirtualClock]]:
    with RedisCluster(host="127.0.0.1", port=cluster[0].port) as client:
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    url = f"redis+cluster://127.0.0.1:{cluster[1].port}/0"
    backend = RedisBackend(url, pyqueue.Signer(SIGNER_KEYS), clock, refresh_seconds=0.0)
    await backend.start()
    try:
        yield backend, clock
    finally:
        await backend.close()


def cluster_port(backend: RedisBackend) -> int:
    return int(backend.url.rsplit(":", 1)[1].split("/")[0])


async def test_rooms_on_every_node_run_the_whole_flow(
    backend: tuple[RedisBackend, pyqueue.VirtualClock],
) -> None:
    redis_backend, clock = backend
    rooms = [f"room{i}" for i in range(6)]
    slots = [
        {"id": f"s{i}", "group": "Kiel", "starts_at": OPENS_AT + timedelta(days=2, minutes=i)}
        for i in range(3)
    ]
    for room in rooms:
        config = pyqueue.RoomConfig(room, OPENS_AT, max_active=5, seed=11)
        await redis_backend.create_room(config, "test")
        await redis_backend.add_slots(room, slots, "test")
    assert await redis_backend.room_ids() == rooms
    with RedisCluster(host="127.0.0.1", port=cluster_port(redis_backend)) as client:
        nodes = {client.get_node_from_key(RoomKeys(room).meta).name for room in rooms}
    assert len(nodes) > 1, "all rooms on one node: the test would not cover the cluster"
    tickets = {
        room: [await redis_backend.join(room, None, None) for _ in range(8)] for room in rooms
    }
    clock.set(OPENS_AT)
    for room in rooms:
        await redis_backend.tick(room)
    clock.advance(1)
    for room in rooms:
        assert (await redis_backend.tick(room)).admitted == 5
        draw = await redis_backend.draw(room)
        assert draw is not None
        assert list(draw.order) == [draw.joined[i] for i in pyqueue.draw_order(8, 11)]
        statuses = [await redis_backend.status(room, t.token) for t in tickets[room]]
        passes = [s.pass_token for s in statuses if s.pass_token is not None]
        assert len(passes) == 5
        assert sorted(s.ahead for s in statuses if s.ahead is not None) == [0, 1, 2]
        await redis_backend.hold(room, "s1", passes[0])
        with pytest.raises(pyqueue.SlotTaken):
            await redis_backend.hold(room, "s1", passes[1])
        booking = await redis_backend.confirm(room, "s1", passes[0])
        assert (await redis_backend.booking(room, booking.code)).slot == "s1"
        assert (await redis_backend.room_info(room)).counters["admitted"] == 5


async def test_on_the_wall_clock_the_rooms_run_on_the_clusters_time(
    cluster: list[RedisServer],
) -> None:
    url = f"redis+cluster://127.0.0.1:{cluster[2].port}/0"
    backend = RedisBackend(url, pyqueue.Signer(SIGNER_KEYS))
    await backend.start()
    try:
        # TIME is answered by one node of the cluster (not a reply per node).
        clock = backend.clock_status()
        assert clock.source == "redis" and clock.ok
        assert clock.offset_seconds is not None and abs(clock.offset_seconds) < 5
        assert abs(backend.now() - time.time()) < 5
        assert {task.name for task in backend.tasks()} == {
            "redis-heartbeats",
            "redis-clock",
            "retention",
        }
    finally:
        await backend.close()


@pytest.mark.parametrize("pool_size", [None, 4])
async def test_three_hundred_concurrent_holds_on_a_cluster_wait_for_connections(
    cluster: list[RedisServer], pool_size: int | None
) -> None:
    # A cluster node allows 100 connections per process and fails at once beyond (redis-py has
    # no blocking pool for a cluster): here the requests wait for a connection instead.
    with RedisCluster(host="127.0.0.1", port=cluster[0].port) as client:
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    url = f"redis+cluster://127.0.0.1:{cluster[0].port}/0"
    options = RedisOptions() if pool_size is None else RedisOptions(pool_size=pool_size)
    backend = RedisBackend(url, pyqueue.Signer(SIGNER_KEYS), clock, options=options)
    await backend.start()
    try:
        config = pyqueue.RoomConfig("busy", OPENS_AT, admit_per_minute=60_000, max_active=300)
        await backend.create_room(config, "test")
        starts = OPENS_AT + timedelta(days=2)
        slots = [{"id": f"s{i}", "group": "Kiel", "starts_at": starts} for i in range(300)]
        await backend.add_slots("busy", slots, "test")
        clock.set(OPENS_AT + timedelta(seconds=1))
        await backend.tick("busy")
        tickets = await asyncio.gather(*(backend.join("busy", None, None) for _ in range(300)))
        clock.advance(1)
        await backend.tick("busy")
        passes = [(await backend.status("busy", t.token)).pass_token for t in tickets]
        holds = await asyncio.gather(
            *(backend.hold("busy", f"s{i}", p or "") for i, p in enumerate(passes)),
            return_exceptions=True,
        )
        assert [h for h in holds if isinstance(h, BaseException)] == []
    finally:
        await backend.close()
