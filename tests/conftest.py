"""Shared fixtures: rooms on a virtual clock, so tests never wait and never depend on timing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import pyqueue

# Each backend in turn, for every suite (the session's Redis is started on first use only).
from tests.redis_fixtures import backend_url, redis_url  # noqa: F401 - fixtures by name

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)  # 07:00 in Kiel


@pytest.fixture
def signer() -> pyqueue.Signer:
    return pyqueue.Signer({"k1": "a-test-secret-of-32-bytes-length!"})


@pytest.fixture
def clock() -> pyqueue.VirtualClock:
    return pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))


RoomFactory = Callable[..., pyqueue.Room]


@pytest.fixture
def make_room(signer: pyqueue.Signer, clock: pyqueue.VirtualClock) -> RoomFactory:
    def make(**overrides: Any) -> pyqueue.Room:
        settings: dict[str, Any] = {
            "admit_per_minute": 600,
            "max_active": 100,
            "session_seconds": 900,
            "heartbeat_timeout_seconds": 60,
            "seed": 2021,
        }
        settings.update(overrides)
        room_id = settings.pop("id", "kiel")
        opens_at = settings.pop("opens_at", OPENS_AT)
        return pyqueue.Room(pyqueue.RoomConfig(room_id, opens_at, **settings), signer, clock)

    return make
