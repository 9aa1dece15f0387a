"""Stateful test of the slot rules: holds, confirms, expiries, cancels, release windows, offers.

A plain-Python model of DESIGN §3 "Inventory" (with the details the design leaves open taken
from the room's documented behaviour) runs beside a real room on a virtual clock. Hypothesis
drives both with the same steps; every outcome, error included, is derived from the rules, and
after every step each slot, the availability counts, the bookings, the visitors' states and
offers and the audit log must agree.

The model's rules:

* A slot is free → held(ticket, until) → booked(ticket, code); a cancellation makes it returned.
* A hold lasts `hold_seconds`, never beyond the visitor's pass, and is stored in whole seconds,
  rounded up. It is live while now < until. A lapsed hold stays until the next tick sweeps it
  (then the slot is free) or a claim takes it over; its holder may renew it.
* `max_bookings_per_identity` bounds each visitor's holds plus bookings, lapsed holds included
  until they are ended. A claim at the limit first ends the visitor's own lapsed holds.
* windows: returned slots become free at the next release window (tick or operator), and not
  before, unless the operator overrides with a reason. Every release is in the audit log.
* waitlist: each returned slot, earliest first, is offered for `offer_seconds` to the next
  waiting visitor in queue order without an open offer; declined or lapsed, it moves on down
  the line from the visitor it was last offered to, never back up. When nobody is left to
  offer it to, it becomes free for everybody. An offer counts toward the limit once booked:
  confirming it is a claim like a hold (a visitor admitted meanwhile may have used the limit
  up), and accepting it closes that offer only. Status shows the deadline the room enforces.
* Confirming the visitor's whole allowance ends the admitted session; the next waiting visitor
  is admitted at the next tick (the rate is high enough that only capacity limits admission).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from hypothesis import Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import pyqueue

SECRET = "a-test-secret-of-32-bytes-length!"
SECOND = 1_000_000
DAY = 24 * 3600 * SECOND
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Passes and heartbeats outlast every run, so that only the slot rules decide.
LONG_SECONDS = 7 * 24 * 3600  # the longest session a room may have
# Ticket tokens last seven days; runs stay within six and a bit.
MAX_RUN = 6 * DAY
VISITORS = 6
ACTORS = ("operator", "operator:anna")
REASONS = (None, "", "   ", "slot found double-entered")

T = TypeVar("T")


def micros(when: datetime) -> int:
    return (when - UNIX_EPOCH) // timedelta(microseconds=1)


def instant(us: int) -> datetime:
    return UNIX_EPOCH + timedelta(microseconds=us)


def ceil_second(us: int) -> int:
    return -(-us // SECOND) * SECOND


def slot_table() -> list[tuple[str, str, datetime]]:
    """Two groups; equal start times are ordered by id, across groups too."""
    eight = datetime(2021, 5, 12, 8, 0, tzinfo=UTC)
    minutes = {"Kiel/a": 0, "Kiel/b": 0, "Kiel/c": 5, "Kiel/d": 10, "Heide/a": 0, "Heide/b": 20}
    return [(sid, sid.split("/")[0], eight + timedelta(minutes=m)) for sid, m in minutes.items()]


SLOTS = slot_table()
SLOT_IDS = [sid for sid, _, _ in SLOTS]

# ------------------------------------------------------------------------------ release windows

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Schedule:
    """Weekly local window times ("daily 07:00", "Mon-Fri 17:00", "Sat 09:30") in one zone."""

    windows: tuple[tuple[frozenset[int], time], ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, specs: tuple[str, ...], timezone: str) -> Schedule:
        windows = []
        for spec in specs:
            days_text, hhmm = spec.split()
            if days_text == "daily":
                days = frozenset(range(7))
            else:
                first, _, last = days_text.partition("-")
                a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
                days = frozenset(range(a, b + 1))
            hour, minute = map(int, hhmm.split(":"))
            windows.append((days, time(hour, minute)))
        return cls(tuple(windows), ZoneInfo(timezone))

    def on(self, day: date) -> tuple[int, ...]:
        return windows_on(self, day)

    def local_day(self, us: int) -> date:
        return instant(us).astimezone(self.zone).date()

    def last_at_or_before(self, us: int) -> int | None:
        today = self.local_day(us)
        for back in range(9):
            due = [w for w in self.on(today - timedelta(days=back)) if w <= us]
            if due:
                return due[-1]
        return None

    def next_at_or_after(self, us: int) -> int | None:
        today = self.local_day(us)
        for ahead in range(9):
            coming = [w for w in self.on(today + timedelta(days=ahead)) if w >= us]
            if coming:
                return coming[0]
        return None


@functools.cache
def windows_on(schedule: Schedule, day: date) -> tuple[int, ...]:
    """The window instants of one local day (no daylight-saving change falls in these runs)."""
    return tuple(
        sorted(
            micros(datetime.combine(day, at, tzinfo=schedule.zone))
            for days, at in schedule.windows
            if day.weekday() in days
        )
    )


# ------------------------------------------------------------------------------ the model


class Refused(Exception):
    """The room must refuse with `kind`, whose attributes equal `expected`."""

    def __init__(self, kind: type[pyqueue.PyqueueError], **expected: Any) -> None:
        super().__init__(kind.__name__)
        self.kind = kind
        self.expected = expected


@dataclass
class SlotModel:
    id: str
    group: str
    starts_at: int
    state: str = "free"
    holder: int | None = None
    until: int | None = None
    code: str | None = None


@dataclass
class VisitorModel:
    ticket: int
    token: str
    state: str
    pass_token: str | None = None
    pass_expires: int | None = None


@dataclass
class Model:
    """The slot rules in plain Python. Times are microseconds since the Unix epoch."""

    mode: str
    schedule: Schedule
    limit: int
    max_active: int
    hold_seconds: int
    offer_seconds: int
    now: int
    windows_done_until: int
    slots: dict[str, SlotModel] = field(default_factory=dict)
    visitors: list[VisitorModel] = field(default_factory=list)
    offers: dict[int, str] = field(default_factory=dict)
    # The queue place of the last visitor each slot was offered to. Everyone joined after the
    # opening, in ticket order, so a visitor's place is their ticket id.
    offered_down_to: dict[str, int] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    spent_codes: list[str] = field(default_factory=list)
    #: A cancelled code's booking as it keeps answering: slot, holder, when it was cancelled.
    cancelled: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    audit: list[tuple[int, str, str, int, str | None]] = field(default_factory=list)
    # What happened that is worth counting in the test statistics.
    notes: list[str] = field(default_factory=list)

    def log(self, action: str, actor: str, count: int, reason: str | None = None) -> None:
        self.audit.append((self.now, action, actor, count, reason))

    def live(self, slot: SlotModel) -> bool:
        return slot.until is not None and self.now < slot.until

    def count(self, ticket: int) -> int:
        return sum(
            1 for s in self.slots.values() if s.holder == ticket and s.state in ("held", "booked")
        )

    def claimable(self, slot: SlotModel) -> bool:
        return slot.state == "free" or (slot.state == "held" and not self.live(slot))

    def by_time(self, slots: list[SlotModel]) -> list[SlotModel]:
        return sorted(slots, key=lambda s: (s.starts_at, s.id))

    def set_state(
        self, slot: SlotModel, state: str, holder: int | None = None, until: int | None = None
    ) -> None:
        slot.state, slot.holder, slot.until = state, holder, until
        if state in ("free", "booked"):
            self.offered_down_to.pop(slot.id, None)

    # ----- visitors

    def make_room_for_one_more(self, v: VisitorModel) -> None:
        """At the limit, the visitor's own lapsed holds end first; if that is not enough, the
        claim is refused (the lapsed holds stay ended)."""
        if self.count(v.ticket) < self.limit:
            return
        for mine in self.slots.values():
            if mine.state == "held" and mine.holder == v.ticket and not self.live(mine):
                self.notes.append("own lapsed hold ended at the limit")
                self.set_state(mine, "free")
        if self.count(v.ticket) >= self.limit:
            raise Refused(pyqueue.LimitReached, limit=self.limit)

    def hold(self, v: VisitorModel, slot_id: str) -> int:
        """Returns the hold's deadline."""
        if v.pass_token is None:
            raise Refused(pyqueue.TokenWrongKind)
        if v.state != "admitted":
            raise Refused(pyqueue.NotAdmitted)
        assert v.pass_expires is not None
        until = ceil_second(min(self.now + self.hold_seconds * SECOND, v.pass_expires))
        slot = self.slots[slot_id]
        own = slot.holder == v.ticket
        if own and slot.state in ("held", "offered") and self.live(slot):
            assert slot.until is not None
            return slot.until
        if own and slot.state == "held":
            self.notes.append("lapsed hold renewed")
            slot.until = until  # it counted already
            return until
        if not self.claimable(slot):
            alternatives = [
                s.id
                for s in self.by_time([s for s in self.slots.values() if s.group == slot.group])
                if s.id != slot_id and self.claimable(s)
            ]
            raise Refused(pyqueue.SlotTaken, slot=slot_id, alternatives=alternatives[:5])
        self.make_room_for_one_more(v)
        if slot.state == "held":
            self.notes.append("lapsed hold taken over")
        self.set_state(slot, "held", v.ticket, until)
        return until

    def confirm(self, v: VisitorModel, slot_id: str) -> str | None:
        """Returns the code of an existing booking, None for a new one (the room draws it)."""
        slot = self.slots[slot_id]
        if slot.state in ("free", "returned"):
            raise Refused(pyqueue.NoHold)
        if slot.holder != v.ticket:
            raise Refused(pyqueue.NotHolder)
        existing = slot.code
        if slot.state != "booked":
            if not self.live(slot):
                raise Refused(pyqueue.HoldExpired)
            if slot.state == "offered":
                # An offer does not count until booked; then it counts like any claim.
                self.notes.append(f"offer confirmed by a visitor who is {v.state}")
                self.make_room_for_one_more(v)
            self.set_state(slot, "booked", v.ticket)
        accepted_offer = self.offers.get(v.ticket) == slot_id
        if accepted_offer:
            del self.offers[v.ticket]
        done = self.count(v.ticket) >= self.limit
        if done and v.state == "admitted":
            v.state = "completed"
        elif done and accepted_offer and v.state == "waiting":
            v.state = "left"
        return existing

    def booked(self, slot_id: str, code: str) -> None:
        self.slots[slot_id].code = code
        self.codes[code] = slot_id

    def release_hold(self, v: VisitorModel, slot_id: str) -> None:
        slot = self.slots[slot_id]
        if slot.holder is not None and slot.holder != v.ticket:
            raise Refused(pyqueue.NotHolder)
        if slot.state == "held":
            self.set_state(slot, "free")
        elif slot.state == "offered":
            self.set_state(slot, "returned")
            self.offers.pop(v.ticket, None)
            self.make_offers()
        else:
            raise Refused(pyqueue.NoHold)

    def decline(self, v: VisitorModel) -> None:
        slot_id = self.offers.pop(v.ticket, None)
        if slot_id is None:
            raise Refused(pyqueue.NoOffer)
        slot = self.slots[slot_id]
        if slot.state == "offered" and slot.holder == v.ticket:
            self.set_state(slot, "returned")
        self.make_offers()

    def cancel(self, code: str | None) -> tuple[str, int, int, bool]:
        """`code` is the canonical spelling of what the caller typed, None for a bogus code.
        A cancelled code answers with its cancellation again, changing nothing; the flag says
        whether this call cancelled it."""
        if code is not None and code in self.cancelled:
            return (*self.cancelled[code], False)
        if code is None or code not in self.codes:
            raise Refused(pyqueue.UnknownBooking)
        slot = self.slots[self.codes.pop(code)]
        self.spent_codes.append(code)
        holder = slot.holder
        assert holder is not None
        slot.code = None
        self.set_state(slot, "returned")
        self.offered_down_to.pop(slot.id, None)
        if self.mode == "waitlist":
            self.make_offers()
        self.cancelled[code] = (slot.id, holder, self.now)
        return (*self.cancelled[code], True)

    # ----- operator and clock

    def free_returned(self) -> int:
        returned = [s for s in self.slots.values() if s.state == "returned"]
        for slot in returned:
            self.set_state(slot, "free")
        return len(returned)

    def release_due_window(self, actor: str) -> int | None:
        window = self.schedule.last_at_or_before(self.now)
        if window is None or window <= self.windows_done_until:
            return None
        self.windows_done_until = window
        if self.mode == "waitlist":
            return 0  # returned slots go to the waiting list, not to a window
        released = self.free_returned()
        self.notes.append(f"window release by {actor}" + ("" if released else ", nothing to free"))
        self.log("release", actor, released)
        return released

    def release(self, override: bool, reason: str | None, actor: str) -> int:
        released = self.release_due_window(actor)
        if released is not None:
            return released
        if not override:
            next_window = self.schedule.next_at_or_after(self.now)
            self.log("release_refused", actor, 0, (reason or "").strip() or None)
            raise Refused(
                pyqueue.ReleaseRefused,
                next_window=None if next_window is None else instant(next_window),
            )
        reason = (reason or "").strip()
        if not reason:
            raise Refused(pyqueue.InvalidArgument)
        released = self.free_returned()
        self.log("release_override", actor, released, reason)
        return released

    def make_offers(self) -> int:
        if self.mode != "waitlist":
            return 0
        returned = self.by_time([s for s in self.slots.values() if s.state == "returned"])
        until = ceil_second(self.now + self.offer_seconds * SECOND)
        made = 0
        unwanted = []
        for slot in returned:
            last = self.offered_down_to.get(slot.id, -1)
            taker = next(
                (
                    v
                    for v in self.visitors[last + 1 :]
                    if v.state == "waiting" and v.ticket not in self.offers
                ),
                None,
            )
            if taker is None:
                unwanted.append(slot)
                continue
            self.notes.append("offer made" if last < 0 else "offer passed on")
            self.set_state(slot, "offered", taker.ticket, until)
            self.offers[taker.ticket] = slot.id
            self.offered_down_to[slot.id] = taker.ticket
            made += 1
        if unwanted:
            for slot in unwanted:
                self.set_state(slot, "free")
            self.notes.append("nobody left to offer to")
            self.log("release_no_waitlist", "schedule", len(unwanted))
        return made

    def tick(self) -> dict[str, int]:
        report = dict.fromkeys(("admitted", "holds_expired", "released", "offers_made"), 0)
        active = sum(v.state == "admitted" for v in self.visitors)
        for v in self.visitors:
            if v.state == "waiting" and active < self.max_active:
                v.state = "admitted"
                v.pass_expires = self.now + LONG_SECONDS * SECOND
                active += 1
                report["admitted"] += 1
        offers_lapsed = False
        for slot in self.slots.values():
            if slot.state in ("held", "offered") and not self.live(slot):
                report["holds_expired"] += 1
                if slot.state == "held":
                    self.set_state(slot, "free")
                else:
                    assert slot.holder is not None
                    self.offers.pop(slot.holder, None)
                    self.set_state(slot, "returned")
                    offers_lapsed = True
        report["released"] = self.release_due_window("schedule") or 0
        if offers_lapsed or any(s.state == "returned" for s in self.slots.values()):
            report["offers_made"] = self.make_offers()
        return report


# ------------------------------------------------------------------------------ the machine


def describe(value: object) -> str:
    if isinstance(value, pyqueue.Booking):
        return f"Booking(slot={value.slot!r}, ticket={value.ticket}, code={value.code!r})"
    if isinstance(value, pyqueue.Hold):
        return f"Hold(slot={value.slot!r}, ticket={value.ticket}, until={value.until})"
    return repr(value)


def spell(code: str, spelling: str) -> str:
    """A booking code as a person may type it; the room accepts each of these."""
    if spelling == "lower":
        return code.lower()
    if spelling == "no dash":
        return code.replace("-", "")
    return code


WHO = st.integers(0, VISITORS - 1)
SLOT = st.sampled_from(SLOT_IDS)
# Aimed steps pick among what exists (admitted visitors, free slots, holds, offers) instead of
# anywhere, so that the interesting paths come up often; unaimed ones find the refusals.
AIMED = st.booleans()
SPELLINGS = st.sampled_from(["as given", "lower", "no dash"])
BOGUS_CODES = ("ZZZZZ-ZZZZZ", "00000-00001", "not a code", "", "ABCDE-FGHJK-M")
ADVANCES = st.one_of(
    st.integers(1, 40).map(lambda quarters: quarters / 4),
    st.integers(55, 65),
    st.integers(115, 125),
    st.integers(295, 305),
    st.integers(595, 605),
    st.integers(606, 3600),
)


class InventoryMachine(RuleBasedStateMachine):
    MODE: ClassVar[str]
    WINDOWS: ClassVar[tuple[str, ...]]
    TIMEZONE: ClassVar[str]
    OPENS_AT: ClassVar[datetime]

    model: Model
    room: pyqueue.Room
    clock: pyqueue.VirtualClock
    start: int

    def __init__(self) -> None:
        super().__init__()
        self.holds: list[pyqueue.Hold] = []

    @initialize(
        limit=st.integers(1, 2),
        max_active=st.integers(2, 4),
        hold_seconds=st.sampled_from([60, 300]),
        offer_seconds=st.sampled_from([120, 600]),
    )
    def open_room(self, limit: int, max_active: int, hold_seconds: int, offer_seconds: int) -> None:
        created = self.OPENS_AT - timedelta(seconds=10)
        self.clock = pyqueue.VirtualClock(created)
        self.start = micros(created)
        config = pyqueue.RoomConfig(
            "stateful",
            self.OPENS_AT,
            admit_per_minute=6000,
            max_active=max_active,
            session_seconds=LONG_SECONDS,
            heartbeat_timeout_seconds=LONG_SECONDS,
            returned_slots=self.MODE,
            release_windows=list(self.WINDOWS),
            timezone=self.TIMEZONE,
            max_bookings_per_identity=limit,
            hold_seconds=hold_seconds,
            offer_seconds=offer_seconds,
            seed=1,
        )
        self.room = self.make_room(config)
        self.model = Model(
            mode=self.MODE,
            schedule=Schedule.parse(self.WINDOWS, self.TIMEZONE),
            limit=limit,
            max_active=max_active,
            hold_seconds=hold_seconds,
            offer_seconds=offer_seconds,
            now=self.start,
            windows_done_until=self.start,
            slots={sid: SlotModel(sid, group, micros(at)) for sid, group, at in SLOTS},
        )
        assert self.room.add_slots(SLOTS) == len(SLOTS)
        self.model.log("load_slots", "operator", len(SLOTS))
        self.move_clock(micros(self.OPENS_AT) + SECOND)
        # Everyone queues, in join order; the first `max_active` are let in at the first tick.
        self.room.queue_all(True)
        self.model.log("queue_all_on", "operator", 0)
        for _ in range(VISITORS):
            ticket = self.room.join()
            assert ticket.state == "waiting"
            self.model.visitors.append(VisitorModel(ticket.id, ticket.token, "waiting"))
        assert [v.ticket for v in self.model.visitors] == list(range(VISITORS))
        self.tick()

    # ----- helpers

    def make_room(self, config: pyqueue.RoomConfig) -> Any:
        """The room under test; a subclass may put a backend behind the same calls."""
        return pyqueue.Room(config, pyqueue.Signer({"k1": SECRET}), self.clock)

    def move_clock(self, to: int) -> None:
        self.clock.advance((to - self.model.now) / SECOND)
        self.model.now = to
        assert micros(self.room.now()) == to

    def check(self, what: str, model_call: Callable[[], T], room_call: Callable[[], Any]) -> Any:
        """Runs the model, then the room; the room must do what the model says. Returns the
        room's result, or None after an expected refusal."""
        name = what.split("(")[0]
        try:
            model_call()
        except Refused as refusal:
            event(f"{name}: {refusal.kind.__name__}")
            try:
                got = room_call()
            except pyqueue.PyqueueError as err:
                assert type(err) is refusal.kind, (
                    f"{what}: expected {refusal.kind.__name__}, the room raised {err!r}"
                )
                for attr, value in refusal.expected.items():
                    assert getattr(err, attr) == value, (
                        f"{what}: {refusal.kind.__name__}.{attr} is {getattr(err, attr)!r}, "
                        f"expected {value!r}"
                    )
                return None
            raise AssertionError(
                f"{what}: expected {refusal.kind.__name__}, the room returned {describe(got)}"
            ) from None
        event(f"{name}: done")
        try:
            return room_call()
        except pyqueue.PyqueueError as err:
            raise AssertionError(f"{what}: expected success, the room raised {err!r}") from err

    def token_of(self, v: VisitorModel, by_pass: bool) -> str:
        return v.pass_token if by_pass and v.pass_token else v.token

    def fetch_passes(self) -> None:
        for v in self.model.visitors:
            if v.state == "admitted" and v.pass_token is None:
                status = self.room.status(v.token)
                assert status.state == "admitted"
                assert status.pass_token is not None and status.pass_expires_at is not None
                assert micros(status.pass_expires_at) == v.pass_expires
                v.pass_token = status.pass_token

    def aim(self, who: int, slot_id: str, state: str) -> tuple[int, str]:
        """A slot in `state` and its holder, chosen by the drawn values; or the drawn visitor
        and slot if there is none."""
        slots = [s for s in self.model.slots.values() if s.state == state]
        if not slots:
            return who, slot_id
        slot = slots[(who + SLOT_IDS.index(slot_id)) % len(slots)]
        assert slot.holder is not None
        return slot.holder, slot.id

    def try_hold(self, who: int, slot_id: str) -> pyqueue.Hold | None:
        v = self.model.visitors[who]
        until: list[int] = []
        got: pyqueue.Hold | None = self.check(
            f"hold({slot_id!r}) by {who}",
            lambda: until.append(self.model.hold(v, slot_id)),
            lambda: self.room.hold(slot_id, v.pass_token or v.token),
        )
        if got is not None:
            held = (got.slot, got.ticket, micros(got.until))
            assert held == (slot_id, v.ticket, until[0]), f"hold {held} != {until[0]}"
            assert got.group == self.model.slots[slot_id].group
            assert micros(got.starts_at) == self.model.slots[slot_id].starts_at
            self.holds = [*self.holds[-7:], got]
        return got

    def try_confirm(self, who: int, slot_id: str, confirm: Callable[[], Any]) -> None:
        v = self.model.visitors[who]
        existing: list[str | None] = []
        booking = self.check(
            f"confirm({slot_id!r}) by {who}",
            lambda: existing.append(self.model.confirm(v, slot_id)),
            confirm,
        )
        if booking is None:
            return
        assert (booking.slot, booking.ticket) == (slot_id, v.ticket), describe(booking)
        if existing[0] is not None:
            assert booking.code == existing[0], f"confirming again changed the code of {slot_id}"
        else:
            assert booking.code not in self.model.codes, f"code {booking.code} is in use"
            self.model.booked(slot_id, booking.code)

    # ----- visitors

    @rule(aimed=AIMED, who=WHO, slot_id=SLOT)
    def hold(self, aimed: bool, who: int, slot_id: str) -> None:
        if aimed:
            who, slot_id = self.aim_at_claimable(who, slot_id)
        self.try_hold(who, slot_id)

    def aim_at_claimable(self, who: int, slot_id: str) -> tuple[int, str]:
        admitted = [v.ticket for v in self.model.visitors if v.state == "admitted"]
        claimable = [s.id for s in self.model.slots.values() if self.model.claimable(s)]
        if not (admitted and claimable):
            return who, slot_id
        return admitted[who % len(admitted)], claimable[SLOT_IDS.index(slot_id) % len(claimable)]

    @rule(who=WHO, slot_id=SLOT, by_pass=st.booleans())
    def book(self, who: int, slot_id: str, by_pass: bool) -> None:
        """An admitted visitor holds a free slot and confirms it at once, as most do."""
        who, slot_id = self.aim_at_claimable(who, slot_id)
        if self.try_hold(who, slot_id) is not None:
            token = self.token_of(self.model.visitors[who], by_pass)
            self.try_confirm(who, slot_id, lambda: self.room.confirm(slot_id, token))

    @rule(
        aim=st.sampled_from(["anywhere", "held", "offered", "booked"]),
        who=WHO,
        slot_id=SLOT,
        by_pass=st.booleans(),
    )
    def confirm(self, aim: str, who: int, slot_id: str, by_pass: bool) -> None:
        if aim != "anywhere":
            who, slot_id = self.aim(who, slot_id, aim)
        token = self.token_of(self.model.visitors[who], by_pass)
        self.try_confirm(who, slot_id, lambda: self.room.confirm(slot_id, token))

    @rule(pick=st.integers(0, 7))
    def confirm_hold(self, pick: int) -> None:
        """Confirms a `Hold` handed out earlier, whatever became of it since."""
        if self.holds:
            hold = self.holds[pick % len(self.holds)]
            self.try_confirm(hold.ticket, hold.slot, lambda: self.room.confirm(hold))

    @rule(
        aim=st.sampled_from(["anywhere", "held", "offered"]),
        who=WHO,
        slot_id=SLOT,
        by_pass=st.booleans(),
    )
    def release_hold(self, aim: str, who: int, slot_id: str, by_pass: bool) -> None:
        if aim != "anywhere":
            who, slot_id = self.aim(who, slot_id, aim)
        v = self.model.visitors[who]
        token = self.token_of(v, by_pass)
        self.check(
            f"release_hold({slot_id!r}) by {who}",
            lambda: self.model.release_hold(v, slot_id),
            lambda: self.room.release_hold(slot_id, token),
        )

    @rule(aimed=AIMED, who=WHO, by_pass=st.booleans())
    def decline_offer(self, aimed: bool, who: int, by_pass: bool) -> None:
        offered = sorted(self.model.offers)
        if aimed and offered:
            who = offered[who % len(offered)]
        v = self.model.visitors[who]
        token = self.token_of(v, by_pass)
        self.check(
            f"decline_offer() by {who}",
            lambda: self.model.decline(v),
            lambda: self.room.decline_offer(token),
        )

    @rule(
        which=st.sampled_from(["live", "cancelled", "bogus"]),
        pick=st.integers(0, 7),
        spelling=SPELLINGS,
    )
    def cancel(self, which: str, pick: int, spelling: str) -> None:
        known = list(self.model.codes) if which == "live" else self.model.spent_codes
        if which == "bogus" or not known:
            typed = BOGUS_CODES[pick % len(BOGUS_CODES)]
            self.check(
                f"cancel({typed!r})",
                lambda: self.model.cancel(None),
                lambda: self.room.cancel(typed),
            )
            return
        code = known[pick % len(known)]
        typed = spell(code, spelling)
        expected: list[tuple[str, int, int, bool]] = []
        answer = self.check(
            f"cancel({typed!r})",
            lambda: expected.append(self.model.cancel(code)),
            lambda: self.room.cancel(typed),
        )
        if answer is not None:
            booking, cancelled_now = answer
            slot, holder, at, new = expected[0]
            assert (booking.slot, booking.ticket, booking.code) == (slot, holder, code)
            assert (booking.state, booking.cancelled_at) == ("cancelled", instant(at))
            assert cancelled_now == new

    # ----- operator

    @rule(override=st.booleans(), reason=st.sampled_from(REASONS), actor=st.sampled_from(ACTORS))
    def release(self, override: bool, reason: str | None, actor: str) -> None:
        expected: list[int] = []
        released = self.check(
            f"release(override={override}, reason={reason!r})",
            lambda: expected.append(self.model.release(override, reason, actor)),
            lambda: self.room.release(override=override, reason=reason, actor=actor),
        )
        if released is not None:
            assert released == expected[0]

    # ----- time

    @rule(seconds=ADVANCES)
    def advance(self, seconds: float) -> None:
        if self.model.now - self.start < MAX_RUN:
            self.move_clock(self.model.now + round(seconds * SECOND))

    @rule(seconds=ADVANCES)
    def advance_and_tick(self, seconds: float) -> None:
        self.advance(seconds)
        self.tick()

    @rule(offset=st.sampled_from([-1.0, -0.25, 0.0, 0.25, 1.0]))
    def advance_to_next_window(self, offset: float) -> None:
        window = self.model.schedule.next_at_or_after(self.model.now + 1)
        assert window is not None
        target = window + round(offset * SECOND)
        if self.model.now < target <= self.start + MAX_RUN:
            self.move_clock(target)

    @rule()
    def tick(self) -> None:
        expected = self.model.tick()
        report = self.room.tick_report()
        got = {name: getattr(report, name) for name in expected}
        assert got == expected, f"tick report {got} != {expected}"
        assert (report.expired, report.abandoned) == (0, 0)
        self.fetch_passes()

    # ----- what must hold after every step

    @invariant()
    def room_agrees_with_model(self) -> None:
        for note in self.model.notes:
            event(note)
        self.model.notes.clear()
        self.check_slots()
        self.check_availability()
        self.check_bookings()
        self.check_limits()
        self.check_visitors()
        self.check_audit_log()
        self.check_info()

    def check_slots(self) -> None:
        for slot in self.model.slots.values():
            info = self.room.slot(slot.id)
            until = None if info.until is None else micros(info.until)
            assert (info.state, until) == (slot.state, slot.until), f"slot {slot.id}"
            assert (info.group, micros(info.starts_at)) == (slot.group, slot.starts_at)

    def check_availability(self) -> None:
        states = ("free", "held", "offered", "booked", "returned")
        expected = {
            group: tuple(
                sum(s.group == group and s.state == state for s in self.model.slots.values())
                for state in states
            )
            for group in sorted({s.group for s in self.model.slots.values()})
        }
        got = {
            g.group: tuple(getattr(g, state) for state in states) for g in self.room.availability()
        }
        assert got == expected, f"availability {got} != {expected}"
        claimable = [
            s.id
            for group in sorted(expected)
            for s in self.model.by_time(list(self.model.slots.values()))
            if s.group == group and self.model.claimable(s)
        ]
        assert [s.id for s in self.room.free_slots()] == claimable

    def check_bookings(self) -> None:
        """No slot is booked twice: one live code per booked slot, each finding its booking."""
        booked = {s.id: s for s in self.model.slots.values() if s.state == "booked"}
        assert sorted(self.model.codes.values()) == sorted(booked)
        assert all(slot.code is not None for slot in booked.values())
        for code, slot_id in self.model.codes.items():
            booking = self.room.booking(code)
            assert (booking.slot, booking.ticket) == (slot_id, booked[slot_id].holder)
        for code in self.model.spent_codes[-3:]:
            # A cancelled code answers with the cancelled booking, never with a live one.
            slot_id, holder, at = self.model.cancelled[code]
            booking = self.room.booking(code)
            assert (booking.slot, booking.ticket, booking.state) == (slot_id, holder, "cancelled")
            assert booking.cancelled_at == instant(at)

    def check_limits(self) -> None:
        for v in self.model.visitors:
            assert self.model.count(v.ticket) <= self.model.limit, f"visitor {v.ticket}"

    def check_visitors(self) -> None:
        for v in self.model.visitors:
            status = self.room.status(v.token)
            assert status.state == v.state, f"visitor {v.ticket} is {status.state}, not {v.state}"
            offered = self.model.offers.get(v.ticket)
            if offered is None:
                assert status.offer is None, f"visitor {v.ticket} shows {status.offer.slot!r}"
            else:
                assert status.offer is not None, f"visitor {v.ticket} lost the offer of {offered}"
                until = self.model.slots[offered].until
                assert status.offer.slot == offered, f"visitor {v.ticket}"
                # The deadline the room enforces, as the slot and a Hold show it.
                assert micros(status.offer.until) == until, (
                    f"visitor {v.ticket}'s offer of {offered}: status says until "
                    f"{status.offer.until}, the room enforces {self.room.slot(offered).until}"
                )

    def check_audit_log(self) -> None:
        """Every release (by the schedule, an operator or for want of takers) is logged."""
        got = [(micros(e.at), e.action, e.actor, e.count, e.reason) for e in self.room.audit_log()]
        assert got == self.model.audit, f"audit log {got} != {self.model.audit}"

    def check_info(self) -> None:
        info = self.room.info()
        next_window = self.model.schedule.next_at_or_after(self.model.now)
        assert info.next_release_window == (None if next_window is None else instant(next_window))
        sold_out = all(s.state in ("booked", "returned") for s in self.model.slots.values())
        assert info.state == ("sold_out" if sold_out else "open")


class WindowsKiel(InventoryMachine):
    """The Kiel case: returned slots come back only on weekdays at 07:00 and 17:00 local time."""

    MODE = "windows"
    WINDOWS = ("Mon-Fri 07:00", "Mon-Fri 17:00")
    TIMEZONE = "Europe/Berlin"
    OPENS_AT = datetime(2021, 5, 10, 6, 0, tzinfo=ZoneInfo("Europe/Berlin"))


class WindowsEvery20Minutes(InventoryMachine):
    """Windows frequent enough that plain advances cross them."""

    MODE = "windows"
    WINDOWS = tuple(f"daily {h:02d}:{m:02d}" for h in range(24) for m in (0, 20, 40))
    TIMEZONE = "UTC"
    OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)


class Waitlist(InventoryMachine):
    """Returned slots are offered to waiting visitors; windows only gate operator releases."""

    MODE = "waitlist"
    WINDOWS = tuple(f"daily {h:02d}:{m:02d}" for h in range(24) for m in (0, 20, 40))
    TIMEZONE = "UTC"
    OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)


FAST = settings(
    max_examples=75,
    stateful_step_count=40,
    deadline=None,
    # No explain phase: it reruns a failing case hundreds of times to annotate it.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)

TestWindowsKiel = WindowsKiel.TestCase
TestWindowsKiel.settings = FAST
TestWindowsEvery20Minutes = WindowsEvery20Minutes.TestCase
TestWindowsEvery20Minutes.settings = FAST
TestWaitlist = Waitlist.TestCase
TestWaitlist.settings = FAST
