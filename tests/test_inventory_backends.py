"""The stateful model of the slot rules (tests/test_inventory_stateful.py) run against the
`Backend` protocol: the embedded memory backend and the Redis backend on a real redis-server
(emptied for every example), both on a virtual clock.

The machine, its rules and its model are those of the core's test; only the room changes: a
`BackendRoom` puts a backend behind the room's calls, running each coroutine on an event loop
the machine owns. Every step's outcome, refusal included, and the state after it (availability
and the claimable slots in order, bookings and codes, the visitors' states and offers, the audit
log, the room's state and next release window) must be what the model says, on each backend.
The protocol has no per-slot read, so a hold's deadline is checked on the `Hold` handed out and
an offer's on the visitor's status.

``PYQUEUE_BACKEND_MODEL_EXAMPLES`` sets the examples per machine and backend (default 40, about
25 s for the file on two cores); a larger run:
``PYQUEUE_BACKEND_MODEL_EXAMPLES=300 .venv/bin/python -m pytest tests/test_inventory_backends.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import Phase, settings

import pyqueue
from pyqueue.backends import Backend
from tests.redis_fixtures import new_backend, redis_url  # noqa: F401 - the fixture is used by name
from tests.test_inventory_stateful import (
    SECOND,
    InventoryMachine,
    Waitlist,
    WindowsEvery20Minutes,
    WindowsKiel,
    instant,
)

ROOM = "stateful"
ACTOR = "operator"
T = TypeVar("T")
EXAMPLES = int(os.environ.get("PYQUEUE_BACKEND_MODEL_EXAMPLES", "40"))


class BackendRoom:
    """The calls the machine makes on a `pyqueue.Room`, answered by a backend."""

    def __init__(self, backend: Backend, loop: asyncio.AbstractEventLoop) -> None:
        self.backend = backend
        self.loop = loop
        # The pass each visitor last held with: confirming a handed-out `Hold` needs it.
        self.passes: dict[int, str] = {}

    def run(self, call: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(call)

    def now(self) -> datetime:
        return instant(round(self.backend.now() * SECOND))

    def add_slots(self, slots: list[tuple[str, str, datetime]]) -> int:
        items = [{"id": sid, "group": group, "starts_at": at} for sid, group, at in slots]
        return self.run(self.backend.add_slots(ROOM, items, ACTOR))

    def queue_all(self, on: bool) -> None:
        self.run(self.backend.queue_all(ROOM, on, ACTOR))

    def join(self) -> Any:
        return self.run(self.backend.join(ROOM, None, None))

    def status(self, token: str) -> Any:
        return self.run(self.backend.status(ROOM, token))

    def tick_report(self) -> Any:
        return self.run(self.backend.tick(ROOM))

    def hold(self, slot: str, pass_token: str) -> Any:
        hold = self.run(self.backend.hold(ROOM, slot, pass_token))
        self.passes[hold.ticket] = pass_token
        return hold

    def confirm(self, slot: Any, token: str | None = None) -> Any:
        if token is None:  # a `Hold` handed out earlier
            slot, token = slot.slot, self.passes[slot.ticket]
        return self.run(self.backend.confirm(ROOM, slot, token))

    def release_hold(self, slot: str, token: str) -> None:
        self.run(self.backend.release_hold(ROOM, slot, token))

    def decline_offer(self, token: str) -> None:
        self.run(self.backend.decline_offer(ROOM, token))

    def booking(self, code: str) -> Any:
        return self.run(self.backend.booking(ROOM, code))

    def cancel(self, code: str) -> Any:
        return self.run(self.backend.cancel(ROOM, code))

    def release(self, *, override: bool, reason: str | None, actor: str) -> int:
        return self.run(self.backend.release(ROOM, override, reason, actor))

    def availability(self) -> Any:
        return self.run(self.backend.availability(ROOM))

    def free_slots(self) -> Any:
        return self.run(self.backend.free_slots(ROOM, None, 0, 1000))

    def audit_log(self) -> Any:
        return self.run(self.backend.audit_log(ROOM))

    def info(self) -> Any:
        return self.run(self.backend.room_info(ROOM))


class OnBackend(InventoryMachine):
    """The machine with a fresh backend of `KIND` per example."""

    KIND: ClassVar[str]
    URL: ClassVar[str | None] = None

    def make_room(self, config: pyqueue.RoomConfig) -> Any:
        self.loop = asyncio.new_event_loop()
        backend = new_backend(self.KIND, self.clock, self.URL)
        self.adapter = BackendRoom(backend, self.loop)
        self.adapter.run(backend.start())
        self.adapter.run(backend.create_room(config, ACTOR))
        return self.adapter

    def check_slots(self) -> None:
        """The protocol reads no single slot; availability and free_slots cover the states."""

    def teardown(self) -> None:
        adapter = getattr(self, "adapter", None)
        if adapter is not None:
            adapter.run(adapter.backend.close())
            self.loop.close()


ON_BACKEND = settings(
    max_examples=EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


class WindowsKielOnMemory(OnBackend, WindowsKiel):
    KIND = "memory"


class WindowsEvery20MinutesOnMemory(OnBackend, WindowsEvery20Minutes):
    KIND = "memory"


class WaitlistOnMemory(OnBackend, Waitlist):
    KIND = "memory"


class WindowsKielOnRedis(OnBackend, WindowsKiel):
    KIND = "redis"


class WindowsEvery20MinutesOnRedis(OnBackend, WindowsEvery20Minutes):
    KIND = "redis"


class WaitlistOnRedis(OnBackend, Waitlist):
    KIND = "redis"


@pytest.fixture(autouse=True)
def redis_for_the_machines(request: pytest.FixtureRequest) -> None:
    """Points the Redis machines at the session's redis-server."""
    if "OnRedis" in request.node.nodeid:
        OnBackend.URL = request.getfixturevalue("redis_url")


TestWindowsKielOnMemory = WindowsKielOnMemory.TestCase
TestWindowsEvery20MinutesOnMemory = WindowsEvery20MinutesOnMemory.TestCase
TestWaitlistOnMemory = WaitlistOnMemory.TestCase
TestWindowsKielOnRedis = pytest.mark.redis(WindowsKielOnRedis.TestCase)
TestWindowsEvery20MinutesOnRedis = pytest.mark.redis(WindowsEvery20MinutesOnRedis.TestCase)
TestWaitlistOnRedis = pytest.mark.redis(WaitlistOnRedis.TestCase)
for case in (
    TestWindowsKielOnMemory,
    TestWindowsEvery20MinutesOnMemory,
    TestWaitlistOnMemory,
    TestWindowsKielOnRedis,
    TestWindowsEvery20MinutesOnRedis,
    TestWaitlistOnRedis,
):
    case.settings = ON_BACKEND
del case  # else collected as one more test
