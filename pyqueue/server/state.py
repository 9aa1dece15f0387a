"""The state the handlers share, kept in the application under :data:`STATE`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from pyqueue._core import EntryVerifier, Signer, VirtualClock
from pyqueue.backends import Backend
from pyqueue.background import BackgroundTasks, Periodic
from pyqueue.config import ServerSettings
from pyqueue.server.httpio import pass_cookie, ticket_cookie
from pyqueue.server.metrics import Metrics
from pyqueue.server.polling import heartbeat_cap_ms
from pyqueue.server.ratelimit import JoinRateLimiter


@dataclass(frozen=True)
class RoomMeta:
    """What the hot paths need of a room's settings, prepared once per settings change."""

    id: str
    ticket_cookie: str
    pass_cookie: str
    poll_cap_ms: int
    handoff_url: str | None
    waiting_room_path: str
    #: ``identity = "entry"``: joins need the portal's entry token.
    entry_only: bool = False
    #: The proof-of-work difficulty of a join; 0: none.
    challenge_max_number: int = 0


@dataclass
class ServerState:
    """Everything the handlers share, stored in the app under :data:`STATE`."""

    server: ServerSettings
    backend: Backend
    signer: Signer
    metrics: Metrics
    limiter: JoinRateLimiter
    #: Look-ups and cancels by booking code per client address (see ``code_limit``).
    code_limiter: JoinRateLimiter
    #: The portal's entry keys (``server.entry_keys``), or None: every entry token is refused.
    entry: EntryVerifier | None = None
    clock: VirtualClock | None = None
    clock_speed: float = 0.0
    rooms: dict[str, RoomMeta] = field(default_factory=dict)
    shutting_down: bool = False
    started: bool = False
    #: The server's own background tasks (the backend has its own: see :meth:`all_tasks`).
    tasks: BackgroundTasks = field(default_factory=BackgroundTasks)

    async def room(self, room_id: str) -> RoomMeta:
        """The room's prepared settings; raises ``UnknownRoom``."""
        meta = self.rooms.get(room_id)
        if meta is None:
            meta = await self.refresh_room(room_id)
        return meta

    async def refresh_room(self, room_id: str) -> RoomMeta:
        config = await self.backend.room_config(room_id)
        meta = RoomMeta(
            id=room_id,
            ticket_cookie=ticket_cookie(room_id),
            pass_cookie=pass_cookie(room_id),
            poll_cap_ms=heartbeat_cap_ms(config.heartbeat_timeout_seconds),
            handoff_url=config.handoff_url,
            waiting_room_path=f"/rooms/{room_id}",
            entry_only=config.identity == "entry",
            challenge_max_number=config.challenge_max_number,
        )
        self.rooms[room_id] = meta
        return meta

    def all_tasks(self) -> Iterator[Periodic]:
        """Every background task of this process: the server's, then the backend's."""
        yield from self.tasks
        yield from self.backend.tasks()

    def now(self) -> float:
        return self.backend.now()

    def token_now(self) -> int:
        """The time to check token expiry at: the rooms' time, which may be virtual."""
        return int(self.backend.now())


STATE: Final = web.AppKey("pyqueue_state", ServerState)
