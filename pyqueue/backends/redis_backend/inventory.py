"""Slots and bookings of the Redis backend. Each claim, confirmation, give-back and cancel is one
Lua script: a compare-and-set on the slot's word in the room's ``slots`` hash, so of any number
of concurrent claims from any number of processes exactly one wins."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import ResponseError

from pyqueue._core import (
    Booking,
    GroupAvailability,
    Hold,
    InvalidArgument,
    NoOffer,
    PyqueueError,
    ReleaseRefused,
    RoomConfig,
    SlotInfo,
    UnknownBooking,
    check_audit,
    check_slots,
)
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.keys import RoomKeys
from pyqueue.backends.redis_backend.schedule import Schedules
from pyqueue.backends.redis_backend.scripts import core_error

if TYPE_CHECKING:
    from pyqueue.backends.redis_backend.backend import RedisBackend

#: The booking code alphabet of the core (Crockford's base 32): 10 symbols, shown as 5-5.
CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_SYMBOLS: Final = 10
_READ_AS: Final = {"O": "0", "I": "1", "L": "1"}


def new_code() -> str:
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_SYMBOLS))
    return f"{symbols[:5]}-{symbols[5:]}"


def normal_code(text: str) -> str | None:
    """A code as a person may type it (any case, dashes or not, O for 0), or None."""
    symbols = [_READ_AS.get(c, c) for c in text.strip().upper() if c != "-"]
    if len(symbols) != CODE_SYMBOLS or any(c not in CODE_ALPHABET for c in symbols):
        return None
    joined = "".join(symbols)
    return f"{joined[:5]}-{joined[5:]}"


def _invalid(message: str) -> InvalidArgument:
    error = core_error(InvalidArgument, "invalid_argument", message)
    assert isinstance(error, InvalidArgument)
    return error


# How far back the latest release window may lie (windows repeat weekly).


class Inventory:
    """The slot operations of :class:`RedisBackend`."""

    def __init__(self, backend: RedisBackend) -> None:
        self._backend = backend
        # Per room: the slot counts last read, their version and their rows as read.
        self._counts: dict[str, list[GroupAvailability]] = {}
        self._versions: dict[str, int] = {}
        self._rows: dict[str, dict[tuple[bytes, ...], GroupAvailability]] = {}
        # When each room's counts were last read (monotonic); none after this process's writes.
        self._counts_at: dict[str, float] = {}
        self._writes: dict[str, int] = {}
        self._schedules = Schedules()

    def forget_counts(self, room: str) -> None:
        """This process changed the room's slots: the next ``availability`` reads again."""
        self._counts_at.pop(room, None)
        self._writes[room] = self._writes.get(room, 0) + 1

    async def availability(self, room: str) -> list[GroupAvailability]:
        """The counts, re-read at most every ``refresh_seconds`` and after this process changed
        the slots; a read sends the counts only when their version moved."""
        read_at = self._counts_at.get(room)
        if read_at is None or time.monotonic() - read_at >= self._backend.refresh_seconds:
            await self._backend.config(room)
            asked_at, writes = time.monotonic(), self._writes.get(room, 0)
            reply = await self._backend.conn.run(
                "counts", RoomKeys(room).meta, [self._backend.micros(), self._known(room)]
            )
            self._take(room, reply, writes, asked_at)
        return list(self._counts.get(room, []))

    def _known(self, room: str) -> str:
        version = self._versions.get(room)
        return "" if version is None else str(version)

    def _take(self, room: str, reply: list[Any], writes: int, read_at: float) -> None:
        """Takes in a ``counts_reply`` (slotlib.lua) asked for at ``read_at`` (monotonic), when
        this process had made ``writes`` changes to the room."""
        version, packed = int(reply[0]), reply[1]
        if packed is not None:
            self.take_counts(room, version, packed)
        # Fresh unless this process changed the slots meanwhile (the reply may predate that).
        if writes == self._writes.get(room, 0) and version >= self._versions.get(room, -1):
            self._counts_at[room] = read_at

    def take_counts(self, room: str, version: int, packed: bytes) -> None:
        """Counts as ``counts.lua`` packs them, groups by name as the core lists them."""
        if version < self._versions.get(room, -1):
            return  # older than the counts already taken in (replies may cross)
        flat = packed.split(b"\0") if packed else []
        # A change moves one group's counts or a few: the others' values are reused as they are.
        known = self._rows.get(room, {})
        rows: dict[tuple[bytes, ...], GroupAvailability] = {}
        for i in range(0, len(flat), 6):
            row = tuple(flat[i : i + 6])
            value = known.get(row)
            if value is None:
                # Never below zero, as the core counts.
                free, held, offered, booked, returned = (max(0, int(c)) for c in row[1:])
                value = GroupAvailability(
                    group=row[0].decode(),
                    free=free,
                    held=held,
                    offered=offered,
                    booked=booked,
                    returned=returned,
                )
            rows[row] = value
        self._rows[room] = rows
        self._counts[room] = [rows[row] for row in sorted(rows)]
        self._versions[room] = version

    async def add(self, room: str, slots: Sequence[Any], actor: str) -> int:
        check_audit(actor)
        await self._backend.config(room)
        args: list[str | int] = [actor]
        # The core's slot rules, as the memory backend applies them; they also keep NUL out
        # of groups, which ends a group in the free index's members (see keys.py).
        for slot_id, group, starts in check_slots(slots):
            args += [slot_id, group, starts]
        return int(await self._backend.run("add_slots", room, *args))

    async def free(self, room: str, group: str | None, offset: int, limit: int) -> list[SlotInfo]:
        await self._backend.config(room)
        if limit <= 0 or group == "":
            return []  # no group has an empty name
        read_at, writes = time.monotonic(), self._writes.get(room, 0)
        flat, counts = await self._backend.conn.run(
            "free_slots",
            RoomKeys(room).meta,
            [self._backend.micros(), group or "", max(0, offset), limit, self._known(room)],
        )
        # The counts came along: the availability shown with this listing costs no command.
        self._take(room, counts, writes, read_at)
        return [
            SlotInfo(
                id=flat[i].decode(),
                group=flat[i + 1].decode(),
                starts_at=rec.from_micros(int(flat[i + 2])),
                state="free",
            )
            for i in range(0, len(flat), 3)
        ]

    async def hold(self, room: str, slot: str, pass_token: str) -> Hold:
        await self._backend.config(room)
        ticket = self._backend.verify(room, pass_token, "pass")
        reply = await self._backend.run("hold", room, ticket, slot, replicated=True)
        return Hold(
            slot=reply[0].decode(),
            group=reply[1].decode(),
            starts_at=rec.from_micros(int(reply[2])),
            ticket=int(reply[3]),
            until=rec.from_micros(int(reply[4])),
        )

    async def confirm(self, room: str, slot: str, token: str) -> Booking:
        await self._backend.config(room)
        ticket = self._backend.verify(room, token, None)
        while True:
            try:
                reply = await self._backend.run(
                    "confirm", room, ticket, slot, new_code(), replicated=True
                )
            except ResponseError as error:
                if str(error).startswith("code_clash"):
                    continue  # one in 2^50 per live code: draw again
                raise
            return _booking(reply)

    async def release_hold(self, room: str, slot: str, token: str) -> None:
        await self._backend.config(room)
        ticket = self._backend.verify(room, token, None)
        await self._backend.run("release_hold", room, ticket, slot)

    async def decline_offer(self, room: str, token: str) -> None:
        await self._backend.config(room)
        ticket = self._backend.verify(room, token, None)
        if not await self.drop_offer(room, ticket):
            raise core_error(NoOffer, "no_offer", "no open offer for this ticket")

    async def drop_offer(self, room: str, ticket: int) -> bool:
        keys = RoomKeys(room)
        offered = await self._backend.conn.call("HGET", keys.prefix + "offers", ticket)
        if offered is None:
            return False
        slot = offered.decode().rpartition("|")[0]
        # The offer may have lapsed meanwhile; either way it passes on.
        with contextlib.suppress(PyqueueError):
            await self._backend.run("release_hold", room, ticket, slot)
        return True

    async def booking(self, room: str, code: str) -> Booking:
        await self._backend.config(room)
        normal = normal_code(code)
        if normal is None:
            raise core_error(UnknownBooking, "unknown_booking", "no such booking")
        # One read-only script: the code's slot and its word in one round trip.
        meta = RoomKeys(room).meta
        return _booking(
            await self._backend.conn.run("booking", meta, [self._backend.micros(), normal])
        )

    async def cancel(self, room: str, code: str) -> tuple[Booking, bool]:
        await self._backend.config(room)
        normal = normal_code(code)
        if normal is None:
            raise core_error(UnknownBooking, "unknown_booking", "no such booking")
        cancelled_now, reply = await self._backend.run("cancel", room, normal, replicated=True)
        return _booking(reply), bool(cancelled_now)

    def due_window(self, room: str, config: RoomConfig) -> int:
        """The latest release window that has come (else 0): as in the core, windows missed
        in between are released once, by the latest. The script releases it only if it is
        later than the last one released, which it reads itself, however stale the cache."""
        last, _ = self._schedules.windows(room, config, self._backend.micros())
        return last or 0

    async def _due_window(self, room: str) -> int:
        config = await self._backend.config(room)
        return self.due_window(room, config)

    def next_window(self, room: str, config: RoomConfig) -> datetime | None:
        _, window = self._schedules.windows(room, config, self._backend.micros())
        return None if window is None else rec.from_micros(window)

    async def release(self, room: str, override: bool, reason: str | None, actor: str) -> int:
        reason = (reason or "").strip()
        check_audit(actor, reason or None)  # the core's rules, as the memory backend's room
        due = await self._due_window(room)
        try:
            released = await self._backend.run("release", room, actor, reason, int(override), due)
        except InvalidArgument:
            raise _invalid("an override release needs a reason") from None
        except ReleaseRefused:
            config = await self._backend.config(room)
            window = self.next_window(room, config)
            when = (
                "this room has no release windows"
                if window is None
                else "the next release window has not come yet"
            )
            raise core_error(
                ReleaseRefused,
                "release_refused",
                f"{when}; an early release needs an override with a reason",
                next_window=window,
            ) from None
        return int(released)


def _booking(reply: list[bytes]) -> Booking:
    """A booking script's reply; a sixth field is when a cancelled booking was cancelled."""
    return Booking(
        code=reply[0].decode(),
        slot=reply[1].decode(),
        group=reply[2].decode(),
        starts_at=rec.from_micros(int(reply[3])),
        ticket=int(reply[4]),
        cancelled_at=rec.from_micros(int(reply[5])) if len(reply) > 5 else None,
    )
