"""Fixtures that give tests a Redis backend on a real ``redis-server`` (one per test session,
emptied before each test), next to the memory backend, for suites run against both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

import pyqueue
from pyqueue.backends import Backend
from pyqueue.backends.memory import MemoryBackend
from pyqueue.backends.redis_backend import RedisBackend
from tests.redis_support import REDIS_SERVER, RedisServer

SIGNER_KEYS = {"k1": "a-test-secret-of-32-bytes-length!"}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make system-deps installs it)")
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield server.url
    finally:
        server.stop()


def flush(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.flushall()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend_url(request: pytest.FixtureRequest) -> str:
    """The server's `backend` setting for each backend in turn: "memory", or the URL of the
    session's Redis, emptied."""
    if request.param == "memory":
        return "memory"
    url = str(request.getfixturevalue("redis_url"))
    flush(url)
    return url


async def make_backend(
    kind: str, clock: pyqueue.VirtualClock, url: str | None
) -> AsyncIterator[Backend]:
    """A started backend of ``kind`` ("memory" or "redis") on ``clock``; closed afterwards."""
    backend = new_backend(kind, clock, url)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


def new_backend(kind: str, clock: pyqueue.VirtualClock, url: str | None) -> Backend:
    """A backend of ``kind`` ("memory" or "redis") on ``clock``, not started yet (an
    application starts the backend it serves)."""
    signer = pyqueue.Signer(SIGNER_KEYS)
    if kind == "memory":
        return MemoryBackend(signer, clock)
    assert url is not None
    flush(url)
    # No refresh interval: each status reads the counters, so tests see every change.
    return RedisBackend(url, signer, clock, refresh_seconds=0.0)
