"""The Backend protocol's contract tests of ``test_server_backend``, run against the Redis
backend on a real redis-server: the same test functions, with a Redis ``setup`` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

import pyqueue
from tests.redis_fixtures import make_backend, redis_url  # noqa: F401 - the fixture is used by name
from tests.test_server_backend import (  # noqa: F401 - collected here against Redis
    OPENS_AT,
    test_a_visitor_through_the_protocol,
    test_an_unknown_room_is_named,
    test_leave_and_complete,
    test_rooms,
)

pytestmark = pytest.mark.redis


@pytest.fixture
async def setup(redis_url: str) -> AsyncIterator[tuple[Any, pyqueue.VirtualClock]]:  # noqa: F811
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    async for backend in make_backend("redis", clock, redis_url):
        config = pyqueue.RoomConfig("kiel", OPENS_AT, max_active=1, seed=7)
        await backend.create_room(config, "test")
        slots = [
            {"id": f"s{i}", "group": "Kiel", "starts_at": OPENS_AT + timedelta(days=2, minutes=i)}
            for i in range(3)
        ]
        await backend.add_slots("kiel", slots, "test")
        yield backend, clock
