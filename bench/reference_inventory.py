"""The slot inventory in plain Python, with the rules of ``queue_core/src/inventory.rs``.

Where the core packs each slot's state into one atomic word and claims it by compare-and-swap,
this keeps a dict of slot records guarded by one ``threading.Lock``: the idiomatic way to make a
claim atomic in Python. States: free -> held(holder, until) -> booked(holder, code); cancel ->
returned; returned -> offered(holder, until) for the waiting list.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import NamedTuple

from bench.reference_errors import (
    DuplicateSlot,
    HoldExpired,
    InvalidArgument,
    LimitReached,
    NoHold,
    NotHolder,
    SlotTaken,
    UnknownBooking,
    UnknownSlot,
)

MICROS = 1_000_000
MAX_ALTERNATIVES = 5
MAX_SLOT_ID_BYTES = 128
UNTIL_MAX_SECS = (1 << 29) - 1

FREE = "free"
HELD = "held"
OFFERED = "offered"
BOOKED = "booked"
RETURNED = "returned"
STATES = (FREE, HELD, OFFERED, BOOKED, RETURNED)
# States a slot leaves for Free only through a recorded transition: listings skip runs of them.
_PARKED = frozenset((OFFERED, BOOKED, RETURNED))

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SYMBOL_VALUES = {c: i for i, c in enumerate(ALPHABET)} | {"O": 0, "I": 1, "L": 1}
_CODE_MASK = (1 << 50) - 1


def format_code(code: int) -> str:
    """Fifty bits as ten Crockford base32 symbols in two groups: "7K3QD-X9M2A"."""
    text = "".join(ALPHABET[(code >> shift) & 31] for shift in range(45, -1, -5))
    return f"{text[:5]}-{text[5:]}"


def parse_code(text: str) -> int | None:
    symbols = text.strip().replace("-", "").upper()
    if len(symbols) != 10:
        return None
    code = 0
    for symbol in symbols:
        value = _SYMBOL_VALUES.get(symbol)
        if value is None:
            return None
        code = (code << 5) | value
    return code


class Hold(NamedTuple):
    slot: str
    group: str
    starts_at: int
    ticket: int
    until: int


class Booking(NamedTuple):
    code: str
    slot: str
    group: str
    starts_at: int
    ticket: int


class SlotInfo(NamedTuple):
    id: str
    group: str
    starts_at: int
    state: str
    holder: int | None
    until: int | None


class Slot:
    __slots__ = ("code", "group", "holder", "id", "position", "starts_at", "state", "until")

    def __init__(self, slot_id: str, group: Group, starts_at: int) -> None:
        self.id = slot_id
        self.group = group
        self.starts_at = starts_at
        self.position = 0
        self.state = FREE
        self.holder = 0
        self.until = 0  # whole seconds after the inventory's epoch
        self.code = 0


class Group:
    __slots__ = ("counts", "name", "scan_hint", "slots")

    def __init__(self, name: str) -> None:
        self.name = name
        self.slots: list[Slot] = []  # by (starts_at, id)
        self.counts = dict.fromkeys(STATES, 0)
        # Every slot before this position is parked.
        self.scan_hint = 0

    def shift(self, slot: Slot, to: str) -> None:
        counts = self.counts
        counts[slot.state] -= 1
        counts[to] += 1
        slot.state = to
        if to == FREE and slot.position < self.scan_hint:
            self.scan_hint = slot.position


class _Entry:
    """A holder's holds plus bookings, and the slots it holds (not booked)."""

    __slots__ = ("count", "holds")

    def __init__(self) -> None:
        self.count = 0
        self.holds: list[Slot] = []


class Inventory:
    """The slots of one room. Every method is safe to call from many threads."""

    def __init__(self, epoch_micros: int) -> None:
        self._epoch = epoch_micros
        self._lock = threading.Lock()
        self._slots: dict[str, Slot] = {}
        self._groups: dict[str, Group] = {}
        self._codes: dict[int, Slot] = {}
        self._holders: dict[int, _Entry] = {}
        self._pool: list[int] = []

    def __len__(self) -> int:
        return len(self._slots)

    def _to_secs(self, until: int) -> int:
        since = until - self._epoch
        if since < 0:
            raise InvalidArgument(f"deadline {until} lies before the inventory's epoch")
        secs = -(-since // MICROS)
        if secs > UNTIL_MAX_SECS:
            raise InvalidArgument(f"deadline {until} lies too far after the inventory's epoch")
        return secs

    def _live(self, slot: Slot, now: int) -> bool:
        return now < self._epoch + slot.until * MICROS

    def add_slots(self, specs: list[tuple[str, str, int]]) -> int:
        """Adds (id, group, starts_at) slots, all or nothing."""
        with self._lock:
            seen: set[str] = set()
            for slot_id, group_name, _ in specs:
                if not slot_id or not group_name or len(slot_id.encode()) > MAX_SLOT_ID_BYTES:
                    raise InvalidArgument("a slot needs an id of 1 to 128 bytes and a group")
                if slot_id in self._slots or slot_id in seen:
                    raise DuplicateSlot(slot_id)
                seen.add(slot_id)
            touched: set[Group] = set()
            for slot_id, group_name, starts_at in specs:
                group = self._groups.get(group_name)
                if group is None:
                    group = self._groups[group_name] = Group(group_name)
                slot = Slot(slot_id, group, starts_at)
                self._slots[slot_id] = slot
                group.slots.append(slot)
                group.counts[FREE] += 1
                touched.add(group)
            for group in touched:
                group.slots.sort(key=lambda s: (s.starts_at, s.id))
                for position, slot in enumerate(group.slots):
                    slot.position = position
                group.scan_hint = 0
            return len(specs)

    def _slot(self, slot_id: str) -> Slot:
        slot = self._slots.get(slot_id)
        if slot is None:
            raise UnknownSlot(slot_id)
        return slot

    def hold(self, slot_id: str, holder: int, now: int, until: int, limit: int) -> Hold:
        """Claims a slot; holding one's own live hold again returns it unchanged."""
        if until <= now:
            raise InvalidArgument(f"a hold must end after now (until {until} <= now {now})")
        until_secs = self._to_secs(until)
        with self._lock:
            slot = self._slot(slot_id)
            state = slot.state
            previous = None
            if state == HELD:
                live = self._live(slot, now)
                if slot.holder == holder:
                    if not live:  # one's own lapsed hold is renewed
                        slot.until = until_secs
                    return self._hold_of(slot)
                if live:
                    raise self._slot_taken(slot, now)
                previous = slot.holder
            elif state != FREE:
                if state == OFFERED and slot.holder == holder and self._live(slot, now):
                    return self._hold_of(slot)
                raise self._slot_taken(slot, now)
            entry = self._reserve(holder, limit, now)
            if previous is None:
                slot.group.shift(slot, HELD)
            else:
                self._end_hold(previous, slot)
            slot.holder = holder
            slot.until = until_secs
            entry.holds.append(slot)
            return self._hold_of(slot)

    def _reserve(self, holder: int, limit: int, now: int) -> _Entry:
        entry = self._holders.get(holder)
        if entry is None:
            entry = self._holders[holder] = _Entry()
        if entry.count >= limit:
            # Lapsed holds of the holder should not block a new claim.
            for held in list(entry.holds):
                if held.state == HELD and held.holder == holder and not self._live(held, now):
                    held.group.shift(held, FREE)
                    entry.count -= 1
                    entry.holds.remove(held)
            if entry.count >= limit:
                self._forget_if_idle(holder, entry)
                raise LimitReached(limit)
        entry.count += 1
        return entry

    def _end_hold(self, holder: int, slot: Slot) -> None:
        entry = self._holders[holder]
        entry.count -= 1
        entry.holds.remove(slot)
        self._forget_if_idle(holder, entry)

    def _forget_if_idle(self, holder: int, entry: _Entry) -> None:
        if entry.count == 0 and not entry.holds:
            del self._holders[holder]

    def confirm(self, slot_id: str, holder: int, now: int) -> Booking:
        """Books a slot that ``holder`` holds or was offered, before the deadline."""
        with self._lock:
            slot = self._slot(slot_id)
            state = slot.state
            if state in (FREE, RETURNED):
                raise NoHold
            if slot.holder != holder:
                raise NotHolder
            if state == BOOKED:
                return self._booking_of(slot)
            if not self._live(slot, now):
                raise HoldExpired
            code = self._draw_code()
            if state == OFFERED:
                # An offer does not count until booked; then it counts without a limit check.
                entry = self._holders.get(holder)
                if entry is None:
                    entry = self._holders[holder] = _Entry()
                entry.count += 1
            else:
                self._holders[holder].holds.remove(slot)
            slot.group.shift(slot, BOOKED)
            slot.code = code
            self._codes[code] = slot
            return self._booking_of(slot)

    def _draw_code(self) -> int:
        while True:
            if not self._pool:
                # One system call per 64 codes, as in the core.
                self._pool = list(memoryview(os.urandom(512)).cast("Q"))
            code = self._pool.pop() & _CODE_MASK
            if code and code not in self._codes:
                return code

    def release_hold(self, slot_id: str, holder: int) -> str:
        """Gives up one's own hold (-> free) or offer (-> returned); returns the new state."""
        with self._lock:
            slot = self._slot(slot_id)
            state = slot.state
            if state in (FREE, RETURNED):
                raise NoHold
            if slot.holder != holder:
                raise NotHolder
            if state == BOOKED:
                raise NoHold
            if state == HELD:
                slot.group.shift(slot, FREE)
                self._end_hold(holder, slot)
                return FREE
            slot.group.shift(slot, RETURNED)
            return RETURNED

    def cancel(self, code_text: str) -> Booking:
        code = parse_code(code_text)
        with self._lock:
            slot = self._codes.pop(code, None) if code is not None else None
            if slot is None:
                raise UnknownBooking
            booking = self._booking_of(slot)
            slot.group.shift(slot, RETURNED)
            slot.code = 0
            entry = self._holders[slot.holder]
            entry.count -= 1
            self._forget_if_idle(slot.holder, entry)
            return booking

    def booking(self, code_text: str) -> Booking:
        code = parse_code(code_text)
        with self._lock:
            slot = self._codes.get(code) if code is not None else None
            if slot is None:
                raise UnknownBooking
            return self._booking_of(slot)

    def release_returned(self) -> int:
        released = 0
        with self._lock:
            for group in self._groups.values():
                if group.counts[RETURNED]:
                    for slot in group.slots:
                        if slot.state == RETURNED:
                            group.shift(slot, FREE)
                            released += 1
        return released

    def returned_slots(self) -> list[str]:
        """Returned slot ids, earliest first: the order the waiting list is offered them."""
        with self._lock:
            returned = [
                slot
                for group in self._groups.values()
                if group.counts[RETURNED]
                for slot in group.slots
                if slot.state == RETURNED
            ]
        returned.sort(key=lambda s: (s.starts_at, s.id))
        return [slot.id for slot in returned]

    def offer(self, slot_id: str, holder: int, until: int) -> None:
        until_secs = self._to_secs(until)
        with self._lock:
            slot = self._slot(slot_id)
            if slot.state != RETURNED:
                raise NoHold
            slot.group.shift(slot, OFFERED)
            slot.holder = holder
            slot.until = until_secs

    def sweep(self, now: int) -> list[tuple[str, int, str]]:
        """Ends lapsed holds (-> free) and offers (-> returned)."""
        ended = []
        with self._lock:
            for group in self._groups.values():
                if not group.counts[HELD] and not group.counts[OFFERED]:
                    continue
                for slot in group.slots:
                    state = slot.state
                    if state in (HELD, OFFERED) and not self._live(slot, now):
                        to = FREE if state == HELD else RETURNED
                        group.shift(slot, to)
                        if to == FREE:
                            self._end_hold(slot.holder, slot)
                        ended.append((slot.id, slot.holder, to))
        return ended

    def availability(self) -> list[dict[str, int | str]]:
        with self._lock:
            return [{"group": name, **self._groups[name].counts} for name in sorted(self._groups)]

    def _claimable(self, group: Group, now: int) -> Iterator[Slot]:
        """Free slots, and holds lapsed by ``now``, in (starts_at, id) order."""
        slots = group.slots
        parked_run = True
        for position in range(group.scan_hint, len(slots)):
            slot = slots[position]
            state = slot.state
            if state in _PARKED:
                continue
            if parked_run:
                group.scan_hint = position
                parked_run = False
            if state == FREE or not self._live(slot, now):
                yield slot
        if parked_run:
            group.scan_hint = len(slots)

    def free_slots(self, group: str | None, now: int, offset: int, limit: int) -> list[SlotInfo]:
        with self._lock:
            if group is not None:
                groups = [self._groups[group]] if group in self._groups else []
            else:
                groups = [self._groups[name] for name in sorted(self._groups)]
            listed: list[SlotInfo] = []
            for g in groups:
                for slot in self._claimable(g, now):
                    if len(listed) >= limit:
                        return listed
                    if offset:
                        offset -= 1
                        continue
                    listed.append(SlotInfo(slot.id, g.name, slot.starts_at, FREE, None, None))
            return listed

    def slot(self, slot_id: str) -> SlotInfo:
        with self._lock:
            slot = self._slot(slot_id)
            state = slot.state
            holder = slot.holder if state in (HELD, OFFERED, BOOKED) else None
            until = self._epoch + slot.until * MICROS if state in (HELD, OFFERED) else None
            return SlotInfo(slot.id, slot.group.name, slot.starts_at, state, holder, until)

    def holds_and_bookings_of(self, holder: int) -> int:
        entry = self._holders.get(holder)
        return entry.count if entry is not None else 0

    def sold_out(self) -> bool:
        with self._lock:
            return bool(self._slots) and all(
                not (g.counts[FREE] or g.counts[HELD] or g.counts[OFFERED])
                for g in self._groups.values()
            )

    def _slot_taken(self, slot: Slot, now: int) -> SlotTaken:
        alternatives = []
        for candidate in self._claimable(slot.group, now):
            if candidate is not slot:
                alternatives.append(candidate.id)
                if len(alternatives) == MAX_ALTERNATIVES:
                    break
        return SlotTaken(slot.id, alternatives)

    def _hold_of(self, slot: Slot) -> Hold:
        until = self._epoch + slot.until * MICROS
        return Hold(slot.id, slot.group.name, slot.starts_at, slot.holder, until)

    def _booking_of(self, slot: Slot) -> Booking:
        return Booking(
            format_code(slot.code), slot.id, slot.group.name, slot.starts_at, slot.holder
        )
