"""The embedded backend: every room is a ``pyqueue.Room`` in this process.

The core is thread-safe and fast, so most calls run inline on the event loop; only bulk slot
loads go to a thread, because the core releases the GIL for them and the loop keeps serving.
State lives in memory only: a restart starts the rooms afresh from the configuration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pyqueue._core import (
    AuditEntry,
    Booking,
    Draw,
    GroupAvailability,
    Hold,
    InvalidConfig,
    PassInfo,
    Room,
    RoomConfig,
    RoomInfo,
    Signer,
    SlotInfo,
    Status,
    Ticket,
    TickReport,
    VirtualClock,
    status_poll,
)
from pyqueue.backends import UnknownRoom
from pyqueue.config import Settings

# Slot loads above this size run in a worker thread, so a big CSV does not stall the polls.
_THREAD_BULK: Final = 5000


#: How a pass begins after the key id, in token format 1: the base64url of the payload's first
#: bytes, version 1 and kind 2 (the third character also holds two bits of the next byte).
_PASS_PAYLOAD_STARTS: Final = frozenset({"AQI", "AQJ", "AQK", "AQL"})


def names_a_pass(token: str) -> bool:
    """Whether the token's payload says "pass" (read, not trusted: nothing is granted on it)."""
    dot = token.find(".")
    return token[dot + 1 : dot + 4] in _PASS_PAYLOAD_STARTS


class MemoryBackend:
    """Rooms in this process. Implements :class:`pyqueue.backends.Backend`."""

    def __init__(self, signer: Signer, clock: VirtualClock | None = None) -> None:
        self._signer = signer
        self._clock = clock
        self._rooms: dict[str, Room] = {}
        # The settings in force, kept here: a Room reports the settings it was built with.
        self._configs: dict[str, RoomConfig] = {}

    @classmethod
    def from_settings(cls, settings: Settings, clock: VirtualClock | None = None) -> MemoryBackend:
        """The rooms of a configuration, with their slots loaded."""
        backend = cls(settings.server.signer(), clock)
        for room_settings in settings.rooms:
            room = backend._add(room_settings.config)
            if room_settings.slots:
                room.add_slots(list(room_settings.slots), actor="config")
        return backend

    def _add(self, config: RoomConfig) -> Room:
        room = Room(config, self._signer, self._clock)
        self._rooms[config.id] = room
        self._configs[config.id] = config
        return room

    def _room(self, room: str) -> Room:
        try:
            return self._rooms[room]
        except KeyError:
            raise UnknownRoom(f"no room {room!r}") from None

    def _now_seconds(self) -> int | None:
        # None lets the signer read the wall clock itself; a virtual clock must be passed.
        return None if self._clock is None else int(self._clock.timestamp())

    # ----- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ready(self) -> bool:
        return True

    def now(self) -> float:
        return time.time() if self._clock is None else self._clock.timestamp()

    # ----- rooms ------------------------------------------------------------------------------

    async def room_ids(self) -> list[str]:
        return list(self._rooms)

    async def room_config(self, room: str) -> RoomConfig:
        self._room(room)
        return self._configs[room]

    async def create_room(self, config: RoomConfig, actor: str) -> None:
        if config.id in self._rooms:
            raise InvalidConfig(f"room {config.id!r} exists already")
        self._add(config)

    async def update_room(self, config: RoomConfig, actor: str) -> None:
        self._room(config.id).update(config, actor=actor)
        self._configs[config.id] = config

    async def room_info(self, room: str) -> RoomInfo:
        return self._room(room).info()

    async def draw(self, room: str) -> Draw | None:
        return self._room(room).draw()

    async def tick(self, room: str) -> TickReport:
        return self._room(room).tick_report()

    async def pause(self, room: str, actor: str) -> None:
        self._room(room).pause(actor=actor)

    async def resume(self, room: str, actor: str) -> None:
        self._room(room).resume(actor=actor)

    async def queue_all(self, room: str, on: bool, actor: str) -> None:
        self._room(room).queue_all(on, actor=actor)

    async def audit_log(self, room: str) -> list[AuditEntry]:
        return self._room(room).audit_log()

    # ----- visitors ---------------------------------------------------------------------------

    async def join(self, room: str, identity: str | None, resume: str | None) -> Ticket:
        target = self._room(room)
        if resume is not None:
            self._signer.verify(resume, room, "ticket", self._now_seconds())
        return target.join(identity=identity, ticket=resume)

    async def status(self, room: str, ticket: str) -> Status:
        target = self._room(room)
        # The core's status takes either kind; the HTTP API keeps the ticket for the queue and
        # the pass for booking, so a pass is refused here. A second full check on every poll
        # would cost a tenth of it, so only a token that names a pass gets one, which then
        # raises the precise error (forged, expired, or the wrong kind); any other token is
        # checked in full by the core's status itself.
        if names_a_pass(ticket):
            self._signer.verify(ticket, room, "ticket", self._now_seconds())
        return target.status(ticket)

    def status_poll(
        self, room: str, ticket: str, cap_ms: int, random: float
    ) -> tuple[bytes | None, int, Status | None]:
        """The status poll's fast path (see ``pyqueue._core.status_poll``): the finished JSON
        answer of a waiting visitor, or the status for the general path. Synchronous on
        purpose: the hot path saves a coroutine."""
        target = self._room(room)
        if names_a_pass(ticket):
            self._signer.verify(ticket, room, "ticket", self._now_seconds())
        return status_poll(target, ticket, cap_ms, random)

    async def leave(self, room: str, token: str) -> str:
        return self._room(room).leave(token)

    async def complete(self, room: str, pass_token: str) -> None:
        self._room(room).complete(pass_token)

    async def verify_pass(self, room: str, pass_token: str) -> PassInfo:
        return self._room(room).verify_pass(pass_token)

    # ----- slots and bookings -----------------------------------------------------------------

    async def add_slots(self, room: str, slots: Iterable[Mapping[str, Any]], actor: str) -> int:
        target = self._room(room)
        items = list(slots)
        if len(items) > _THREAD_BULK:
            return await asyncio.to_thread(target.add_slots, items, actor)
        return target.add_slots(items, actor=actor)

    async def availability(self, room: str) -> list[GroupAvailability]:
        return self._room(room).availability()

    async def free_slots(
        self, room: str, group: str | None, offset: int, limit: int
    ) -> list[SlotInfo]:
        return self._room(room).free_slots(group=group, offset=offset, limit=limit)

    async def hold(self, room: str, slot: str, pass_token: str) -> Hold:
        return self._room(room).hold(slot, pass_token)

    async def confirm(self, room: str, slot: str, token: str) -> Booking:
        return self._room(room).confirm(slot, token)

    async def release_hold(self, room: str, slot: str, token: str) -> None:
        self._room(room).release_hold(slot, token)

    async def decline_offer(self, room: str, token: str) -> None:
        self._room(room).decline_offer(token)

    async def booking(self, room: str, code: str) -> Booking:
        return self._room(room).booking(code)

    async def cancel(self, room: str, code: str) -> Booking:
        return self._room(room).cancel(code)

    async def release(self, room: str, override: bool, reason: str | None, actor: str) -> int:
        return self._room(room).release(override=override, reason=reason, actor=actor)
