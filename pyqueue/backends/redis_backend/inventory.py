"""Slots and bookings of the Redis backend. Each claim, confirmation, give-back and cancel is one
Lua script: a compare-and-set on the slot's word in the room's ``slots`` hash, so of any number
of concurrent claims from any number of processes exactly one wins."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import ResponseError

from pyqueue._core import (
    DuplicateSlot,
    InvalidArgument,
    NoOffer,
    PyqueueError,
    ReleaseRefused,
    RoomConfig,
    UnknownBooking,
)
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.keys import RoomKeys
from pyqueue.backends.redis_backend.schedule import Schedules
from pyqueue.backends.redis_backend.scripts import core_error

if TYPE_CHECKING:
    from pyqueue.backends.redis_backend.backend import RedisBackend
    from pyqueue.backends.redis_backend.cache import RoomCache

#: The booking code alphabet of the core (Crockford's base 32): 10 symbols, shown as 5-5.
CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_SYMBOLS: Final = 10
_READ_AS: Final = {"O": "0", "I": "1", "L": "1"}
_STATES: Final = ("free", "held", "offered", "booked", "returned")


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


def _slot_fields(item: Mapping[str, Any] | Sequence[Any]) -> tuple[str, str, int]:
    if isinstance(item, Mapping):
        values = (item.get("id"), item.get("group"), item.get("starts_at"))
    else:
        values = tuple(item) if len(item) == 3 else (None, None, None)
    slot_id, group, starts = values
    if not isinstance(slot_id, str) or not slot_id or not isinstance(group, str) or not group:
        raise _invalid("a slot needs a non-empty id and group")
    if isinstance(starts, str):
        try:
            starts = datetime.fromisoformat(starts)
        except ValueError:
            raise _invalid(f"slot {slot_id!r}: starts_at is not RFC 3339") from None
    if not isinstance(starts, datetime) or starts.tzinfo is None:
        raise _invalid(f"slot {slot_id!r}: starts_at needs a time zone offset")
    return slot_id, group, rec.to_micros(starts)


def _invalid(message: str) -> InvalidArgument:
    error = core_error(InvalidArgument, "invalid_argument", message)
    assert isinstance(error, InvalidArgument)
    return error


class Inventory:
    """The slot operations of :class:`RedisBackend`."""

    def __init__(self, backend: RedisBackend) -> None:
        self._backend = backend
        self._counts: dict[str, list[rec.GroupAvailability]] = {}
        self._schedules = Schedules()

    def take_counts(self, room: str, avail: Mapping[bytes, bytes], groups: Sequence[bytes]) -> None:
        """The per-group counts of one cache refresh, in load order."""
        by_group: dict[str, dict[str, int]] = {g.decode(): {} for g in groups}
        for field, value in avail.items():
            state, _, group = field.decode().partition(":")
            by_group.setdefault(group, {})[state] = int(value)
        self._counts[room] = [
            rec.GroupAvailability(group, **{s: max(0, c.get(s, 0)) for s in _STATES})
            for group, c in by_group.items()
        ]

    async def availability(self, room: str) -> list[rec.GroupAvailability]:
        await self._backend.fresh(room)
        return list(self._counts.get(room, []))

    async def add(self, room: str, slots: Sequence[Any], actor: str) -> int:
        await self._backend.config(room)
        args: list[str | int] = [actor]
        seen: set[str] = set()
        for item in slots:
            slot_id, group, starts = _slot_fields(item)
            if slot_id in seen:
                message = f"slot {slot_id!r} twice"
                raise core_error(DuplicateSlot, "duplicate_slot", message, slot=slot_id)
            seen.add(slot_id)
            args += [slot_id, group, starts]
        return int(await self._backend.run("add_slots", room, *args))

    async def free(
        self, room: str, group: str | None, offset: int, limit: int
    ) -> list[rec.SlotInfo]:
        keys = RoomKeys(room)
        await self._backend.config(room)
        conn = self._backend.conn
        groups = (
            [group]
            if group is not None
            else [g.decode() for g in await conn.call("ZRANGE", keys.groups, 0, -1)]
        )
        now = self._backend.micros()
        found: list[rec.SlotInfo] = []
        skip = max(0, offset)
        for name in groups:
            ids = await conn.call("ZRANGE", keys.group(name), 0, -1, "WITHSCORES")
            if not ids:
                continue
            words = await conn.call("HMGET", keys.slots, *[slot for slot, _ in ids])
            for (slot, starts), word in zip(ids, words, strict=True):
                state, _, until, _ = word.decode().split("|")
                lapsed = state in ("held", "offered") and int(until) <= now
                if state != "free" and not lapsed:
                    continue
                if skip:
                    skip -= 1
                    continue
                found.append(
                    rec.SlotInfo(slot.decode(), name, rec.from_micros(int(starts)), "free", None)
                )
                if len(found) >= limit:
                    return found
        return found

    async def hold(self, room: str, slot: str, pass_token: str) -> rec.Hold:
        await self._backend.config(room)
        ticket = self._backend.verify(room, pass_token, "pass")
        reply = await self._backend.run("hold", room, ticket, slot)
        return rec.Hold(
            slot=reply[0].decode(),
            group=reply[1].decode(),
            starts_at=rec.from_micros(int(reply[2])),
            ticket=int(reply[3]),
            until_micros=int(reply[4]),
        )

    async def confirm(self, room: str, slot: str, token: str) -> rec.Booking:
        await self._backend.config(room)
        ticket = self._backend.verify(room, token, None)
        while True:
            try:
                reply = await self._backend.run("confirm", room, ticket, slot, new_code())
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

    async def booking(self, room: str, code: str) -> rec.Booking:
        await self._backend.config(room)
        keys = RoomKeys(room)
        normal = normal_code(code)
        slot = None if normal is None else await self._backend.conn.call("HGET", keys.codes, normal)
        if normal is None or slot is None:
            raise core_error(UnknownBooking, "unknown_booking", "no such booking")
        word, info = await self._backend.conn.pipeline(
            [("HGET", keys.slots, slot), ("HGET", keys.slot_info, slot)]
        )
        _, holder, _, _ = word.decode().split("|")
        starts, _, group = info.decode().partition("|")
        return rec.Booking(normal, slot.decode(), group, rec.from_micros(int(starts)), int(holder))

    async def cancel(self, room: str, code: str) -> rec.Booking:
        await self._backend.config(room)
        normal = normal_code(code)
        if normal is None:
            raise core_error(UnknownBooking, "unknown_booking", "no such booking")
        return _booking(await self._backend.run("cancel", room, normal))

    def due_window(self, room: str, config: RoomConfig, cache: RoomCache) -> int:
        """The first release window after the last one released, if it has come (else 0).
        From the cache: the script releases a window only once, however stale the cache."""
        window = self._schedules.next_after(room, config, cache.count("windows_done"))
        return window if window is not None and window <= self._backend.micros() else 0

    async def _due_window(self, room: str) -> int:
        config = await self._backend.config(room)
        return self.due_window(room, config, await self._backend.fresh(room))

    def next_window(self, room: str, config: RoomConfig) -> datetime | None:
        window = self._schedules.next_after(room, config, self._backend.micros() - 1)
        return None if window is None else rec.from_micros(window)

    async def release(self, room: str, override: bool, reason: str | None, actor: str) -> int:
        due = await self._due_window(room)
        reason = (reason or "").strip()
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


def _booking(reply: list[bytes]) -> rec.Booking:
    return rec.Booking(
        code=reply[0].decode(),
        slot=reply[1].decode(),
        group=reply[2].decode(),
        starts_at=rec.from_micros(int(reply[3])),
        ticket=int(reply[4]),
    )
