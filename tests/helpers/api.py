"""The server in process on a virtual clock, driven through aiohttp's test client.

Nothing ticks by itself here: a test moves the clock and ticks explicitly, so every step is
deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

import pyqueue
from pyqueue.backends import Backend
from pyqueue.backends.memory import MemoryBackend
from pyqueue.config import Settings, settings_from_mapping
from pyqueue.server import STATE, create_app
from pyqueue.server.ticker import tick_all

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)  # 07:00 in Kiel, a Monday
START = OPENS_AT - timedelta(hours=1)
SECRET = "a-test-secret-of-32-bytes-length!"
ADMIN_TOKEN = "admin-token-for-the-tests"
SERVICE_TOKEN = "service-token-for-the-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def room_table(room_id: str = "kiel", **overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "id": room_id,
        "opens_at": OPENS_AT.isoformat(),
        "admit_per_minute": 600,
        "max_active": 100,
        "session_seconds": 900,
        "heartbeat_timeout_seconds": 60,
        "seed": 2021,
    }
    table.update(overrides)
    return {k: v for k, v in table.items() if v is not None}


def slot_table(
    count: int = 6, groups: tuple[str, ...] = ("Kiel 2021-05-12",)
) -> list[dict[str, Any]]:
    slots = []
    for g, group in enumerate(groups):
        for i in range(count):
            starts = OPENS_AT + timedelta(days=2, minutes=10 * i)
            slots.append({"id": f"g{g}-s{i}", "group": group, "starts_at": starts.isoformat()})
    return slots


def make_settings(rooms: list[dict[str, Any]] | None = None, **server: Any) -> Settings:
    server_table: dict[str, Any] = {
        "admin_token": ADMIN_TOKEN,
        "service_token": SERVICE_TOKEN,
        "secrets": {"k1": SECRET},
    }
    server_table.update(server)
    server_table = {k: v for k, v in server_table.items() if v is not None}
    return settings_from_mapping(
        {"server": server_table, "rooms": rooms if rooms is not None else [room_table()]},
        base_dir=Path.cwd(),
        env={},
    )


@dataclass
class Api:
    client: TestClient[Any, Any]
    clock: pyqueue.VirtualClock
    backend: Backend
    settings: Settings
    cookies_by_visitor: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self):
        return self.client.app[STATE]

    async def tick(self) -> int:
        return await tick_all(self.state)

    async def advance(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return await tick_all(self.state)

    async def open(self) -> None:
        """Moves to the opening and ticks: the pre-queue is drawn."""
        self.clock.set(OPENS_AT)
        await self.tick()

    async def json(self, method: str, path: str, status: int | None = None, **kwargs: Any):
        response = await self.client.request(method, path, **kwargs)
        body = await response.json() if response.content_type == "application/json" else None
        if status is not None:
            assert response.status == status, (response.status, body)
        return response, body

    async def join(
        self, room: str = "kiel", identity: str | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Joins as a fresh visitor without cookies (an app): returns the answer."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"identity": identity} if identity else {}
        response = await self.client.post(f"/v1/rooms/{room}/join", json=body, headers=headers)
        data: dict[str, Any] = await response.json()
        assert response.status in (200, 201), data
        # The test client keeps cookies; apps in these tests use the bearer token only.
        self.client.session.cookie_jar.clear()
        return data

    async def status(self, token: str, room: str = "kiel", status: int = 200) -> dict[str, Any]:
        _, body = await self.json("GET", f"/v1/rooms/{room}/status", status, headers=bearer(token))
        assert isinstance(body, dict)
        # An admitted status sets the pass cookie; apps in these tests use bearer tokens only.
        self.client.session.cookie_jar.clear()
        return body

    async def admitted_pass(
        self, room: str = "kiel", identity: str | None = None
    ) -> dict[str, Any]:
        """A visitor admitted right away (the room must be open and not full)."""
        joined = await self.join(room, identity)
        if joined["pass"] is None:
            await self.advance(1)
            joined = await self.status(joined["ticket"], room) | {"ticket": joined["ticket"]}
        assert joined["state"] == "admitted", joined
        return joined


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def start_api(
    aiohttp_client: Any,
    rooms: list[dict[str, Any]] | None = None,
    *,
    slots: Mapping[str, list[dict[str, Any]]] | None = None,
    backend: Backend | None = None,
    start: datetime = START,
    virtual_clock_routes: bool = True,
    clock: pyqueue.VirtualClock | None = None,
    **server: Any,
) -> Api:
    settings = make_settings(rooms, **server)
    clock = clock or pyqueue.VirtualClock(start)
    if backend is None:
        backend = MemoryBackend.from_settings(settings, clock)
    for room_id, room_slots in (slots or {}).items():
        await backend.add_slots(room_id, room_slots, "test")
    app = create_app(
        settings, backend, clock=clock if virtual_clock_routes else None, run_ticker=False
    )
    client = await aiohttp_client(app)
    return Api(client=client, clock=clock, backend=backend, settings=settings)
