"""A plain-Python implementation of pyqueue's rules: the baseline the benchmarks compare with.

It follows the Rust core rule for rule (``queue_core/src``: room, queue, admission, prequeue,
position, eta, token, inventory, schedule) and mirrors the shape of the Python API, so one
benchmark body drives both. It is written the way a careful Python programmer would write it:
idiomatic data structures (a Fenwick tree in a list, a heap, dicts), the C-implemented ``hmac``
and ``base64`` for tokens, and a ``threading.Lock`` where the core uses a mutex or a
compare-and-swap. The pre-queue draw reproduces ``pyqueue.draw_order`` exactly, and tokens are
byte for byte those of the core.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.reference_errors import (
    Error,
    InvalidArgument,
    InvalidConfig,
    LimitReached,
    NoHold,
    NoOffer,
    NotAdmitted,
    ReleaseRefused,
    SlotTaken,
    TokenError,
    TokenExpired,
)
from bench.reference_inventory import RETURNED, Booking, Hold, Inventory, SlotInfo
from bench.reference_order import Estimate, draw_order
from bench.reference_queue import (
    ADMITTED,
    EXPIRED,
    MICROS,
    WAITING,
    Draw,
    QueueState,
    TickOutcome,
)
from bench.reference_schedule import ReleaseSchedule
from bench.reference_tokens import Signer, TokenInfo

__all__ = [
    "Booking",
    "Draw",
    "Error",
    "Hold",
    "LimitReached",
    "Room",
    "RoomConfig",
    "Signer",
    "SlotInfo",
    "SlotTaken",
    "Status",
    "Ticket",
    "TokenError",
    "TokenInfo",
    "VirtualClock",
    "WallClock",
    "draw_order",
]

TICKET_TOKEN_SECONDS = 7 * 24 * 3600
INVENTORY_EPOCH_MARGIN = 24 * 3600 * MICROS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TimeLike = datetime | str


def to_micros(value: TimeLike) -> int:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        raise InvalidArgument("times need a UTC offset")
    return (when - _EPOCH) // timedelta(microseconds=1)


class WallClock:
    def now_micros(self) -> int:
        return time.time_ns() // 1000


class VirtualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: TimeLike) -> None:
        self._micros = to_micros(start)

    def now_micros(self) -> int:
        return self._micros

    def advance(self, seconds: float) -> None:
        if not seconds >= 0:
            raise InvalidArgument(f"cannot advance by {seconds} s")
        self._micros += round(seconds * MICROS)

    def set(self, when: TimeLike) -> None:
        micros = to_micros(when)
        if micros < self._micros:
            raise InvalidArgument("a virtual clock cannot go backwards")
        self._micros = micros


@dataclass
class RoomConfig:
    """The same fields, defaults and checks as ``pyqueue.RoomConfig`` (times in micros)."""

    id: str
    opens_at: int
    admit_per_minute: float = 600.0
    max_active: int = 500
    session_seconds: int = 900
    heartbeat_timeout_seconds: int = 120
    closes_at: int | None = None
    prequeue_opens_at: int | None = None
    prequeue: str = "shuffle"
    identity: str = "optional"
    returned_slots: str = "windows"
    release_windows: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    max_bookings_per_identity: int = 1
    hold_seconds: int = 300
    offer_seconds: int = 600
    handoff_url: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("opens_at", "closes_at", "prequeue_opens_at"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, int):
                setattr(self, name, to_micros(value))
        if self.seed is None:
            self.seed = secrets.randbits(64)
        self.validate()

    def validate(self) -> None:
        if not (0 < len(self.id) <= 64 and self.id.replace("_", "").replace("-", "").isalnum()):
            raise InvalidConfig(f"room id {self.id!r} must be 1 to 64 of A-Z a-z 0-9 _ -")
        if not self.admit_per_minute > 0 or self.admit_per_minute == float("inf"):
            raise InvalidConfig(f"admit_per_minute must be > 0, got {self.admit_per_minute}")
        for name in (
            "max_active",
            "session_seconds",
            "heartbeat_timeout_seconds",
            "max_bookings_per_identity",
            "hold_seconds",
            "offer_seconds",
        ):
            if getattr(self, name) < 1:
                raise InvalidConfig(f"{name} must be at least 1")
        if self.closes_at is not None and self.closes_at <= self.opens_at:
            raise InvalidConfig("closes_at must be after opens_at")
        if self.prequeue_opens_at is not None and self.prequeue_opens_at > self.opens_at:
            raise InvalidConfig("prequeue_opens_at must not be after opens_at")
        if self.prequeue not in ("shuffle", "fifo"):
            raise InvalidConfig(f"prequeue must be 'shuffle' or 'fifo', got {self.prequeue!r}")
        if self.identity not in ("optional", "required"):
            raise InvalidConfig(f"identity must be 'optional' or 'required', got {self.identity!r}")
        if self.returned_slots not in ("windows", "waitlist"):
            raise InvalidConfig("returned_slots must be 'windows' or 'waitlist'")


@dataclass(slots=True)
class Ticket:
    id: int
    token: str
    state: str
    new: bool


@dataclass(slots=True)
class Offer:
    slot: str
    until: int


@dataclass(slots=True)
class Status:
    ticket: int
    state: str
    ahead: int | None
    ahead_at_start: int | None
    eta: Estimate
    opens_in_seconds: float
    pass_token: str | None
    pass_expires_at: int | None
    offer: Offer | None
    paused: bool


@dataclass(slots=True)
class TickReport:
    admitted: int
    abandoned: int
    expired: int
    released: int
    holds_expired: int
    offers_made: int


class Room:
    """One waiting room: the queue behind a lock, the inventory, tokens, releases and offers."""

    def __init__(self, config: RoomConfig, signer: Signer, clock=None) -> None:
        self._clock = clock if clock is not None else WallClock()
        now = self._clock.now_micros()
        self.id = config.id
        self.config = config
        self._signer = signer
        self._queue = QueueState(config)
        self._queue_lock = threading.Lock()
        self.inventory = Inventory(min(config.opens_at, now) - INVENTORY_EPOCH_MARGIN)
        self._booking_lock = threading.Lock()
        self._schedule = ReleaseSchedule(config.release_windows, config.timezone)
        self._windows_done_until = now
        self._offers: dict[int, Offer] = {}
        self.audit: list[tuple[int, str, str, int, str | None]] = []

    def now(self) -> int:
        return self._clock.now_micros()

    # ----- visitors -------------------------------------------------------------------------

    def _verify(self, token: str, kind: str | None, now: int) -> int:
        return self._signer.verify(token, self.id, kind, now // MICROS).ticket

    def join(self, identity: str | None = None, ticket: str | None = None) -> Ticket:
        now = self._clock.now_micros()
        resume = self._verify(ticket, None, now) if ticket is not None else None
        with self._queue_lock:
            t, new = self._queue.join(now, identity, resume)
            record = self._queue.tickets[t]
            joined_at, state = record.joined_at, record.state
        issued_at = joined_at // MICROS
        token = self._signer.sign("ticket", self.id, t, issued_at, issued_at + TICKET_TOKEN_SECONDS)
        return Ticket(t, token, state, new)

    def status(self, token: str) -> Status:
        now = self._clock.now_micros()
        t = self._verify(token, None, now)
        with self._queue_lock:
            view = self._queue.status(t, now)
            admitted_at = self._queue.tickets[t].admitted_at
        pass_token = None
        if view.pass_expires_at is not None:
            pass_token = self._signer.sign(
                "pass", self.id, t, admitted_at // MICROS, view.pass_expires_at // MICROS
            )
        offer = None
        if self._offers:
            with self._booking_lock:
                offer = self._offers.get(t)
        return Status(
            t,
            view.state,
            view.ahead,
            view.ahead_at_start,
            view.eta,
            view.opens_in_seconds,
            pass_token,
            view.pass_expires_at,
            offer,
            view.paused,
        )

    def leave(self, token: str) -> str:
        now = self.now()
        t = self._verify(token, None, now)
        with self._queue_lock:
            before = self._queue.leave(t, now)
        self._drop_offer_of(t, now)
        return before

    def complete(self, pass_token: str) -> None:
        now = self.now()
        t = self._verify(pass_token, "pass", now)
        with self._queue_lock:
            self._queue.complete(t, now)

    # ----- the clock's work -----------------------------------------------------------------

    def tick(self) -> int:
        return self.tick_report().admitted

    def tick_report(self) -> TickReport:
        now = self._clock.now_micros()
        with self._queue_lock:
            outcome: TickOutcome = self._queue.tick(now)
        holds_expired = 0
        offers_lapsed = False
        for _, holder, state in self.inventory.sweep(now):
            holds_expired += 1
            if state == RETURNED:
                with self._booking_lock:
                    self._offers.pop(holder, None)
                offers_lapsed = True
        released = self._release_due_window(now, "schedule") or 0
        offers_made = 0
        if offers_lapsed or self.inventory.returned_slots():
            offers_made = self._make_offers(now)
        return TickReport(
            outcome.admitted,
            outcome.abandoned,
            outcome.expired,
            released,
            holds_expired,
            offers_made,
        )

    # ----- operator -------------------------------------------------------------------------

    def pause(self, actor: str = "operator") -> None:
        with self._queue_lock:
            self._queue.paused = True
        self._audit("pause", actor, 0, None)

    def resume(self, actor: str = "operator") -> None:
        now = self.now()
        with self._queue_lock:
            self._queue.accrue(now)
            self._queue.paused = False
        self._audit("resume", actor, 0, None)

    def queue_all(self, on: bool = True, actor: str = "operator") -> None:
        with self._queue_lock:
            self._queue.queue_all = on
        self._audit("queue_all_on" if on else "queue_all_off", actor, 0, None)

    def draw(self) -> Draw | None:
        with self._queue_lock:
            return self._queue.draw

    def waiting_count(self) -> int:
        with self._queue_lock:
            return self._queue.waiting_count()

    def _audit(self, action: str, actor: str, count: int, reason: str | None) -> None:
        with self._booking_lock:
            self.audit.append((self.now(), action, actor, count, reason))

    # ----- slots ----------------------------------------------------------------------------

    def add_slots(self, slots, actor: str = "operator") -> int:
        specs = [
            (s["id"], s["group"], to_micros(s["starts_at"]))
            if isinstance(s, dict)
            else (s[0], s[1], to_micros(s[2]))
            for s in slots
        ]
        added = self.inventory.add_slots(specs)
        self._audit("load_slots", actor, added, None)
        return added

    def hold(self, slot_id: str, pass_token: str) -> Hold:
        """Holds a slot for the pass's visitor, for ``hold_seconds`` but never beyond the pass."""
        now = self._clock.now_micros()
        t = self._verify(pass_token, "pass", now)
        with self._queue_lock:
            record = self._queue.ticket(t)
            if record.state != ADMITTED or now >= record.pass_expires_at:
                if record.state == EXPIRED or now >= record.pass_expires_at:
                    raise TokenExpired
                raise NotAdmitted
            config = self._queue.config
            until = min(now + config.hold_seconds * MICROS, record.pass_expires_at)
            limit = config.max_bookings_per_identity
        return self.inventory.hold(slot_id, t, now, until, limit)

    def confirm(self, hold: Hold | str, token: str | None = None) -> Booking:
        now = self._clock.now_micros()
        if isinstance(hold, Hold):
            return self._confirm_for(hold.slot, hold.ticket, now)
        if token is None:
            raise InvalidArgument("confirming a slot id needs the visitor's token")
        return self._confirm_for(hold, self._verify(token, None, now), now)

    def _confirm_for(self, slot_id: str, t: int, now: int) -> Booking:
        booking = self.inventory.confirm(slot_id, t, now)
        had_offer = False
        if self._offers:
            with self._booking_lock:
                had_offer = self._offers.pop(t, None) is not None
        with self._queue_lock:
            queue = self._queue
            done = self.inventory.holds_and_bookings_of(t) >= queue.config.max_bookings_per_identity
            state = queue.ticket(t).state
            if done and state == ADMITTED:
                # Booked all they may: the session's capacity goes to the next in line.
                queue.complete(t, now)
            elif had_offer and done and state == WAITING:
                queue.leave(t, now)
        return booking

    def release_hold(self, slot_id: str, token: str) -> None:
        now = self.now()
        t = self._verify(token, None, now)
        if self.inventory.release_hold(slot_id, t) == RETURNED:
            with self._booking_lock:
                self._offers.pop(t, None)
            self._make_offers(now)

    def decline_offer(self, token: str) -> None:
        now = self.now()
        if not self._drop_offer_of(self._verify(token, None, now), now):
            raise NoOffer

    def _drop_offer_of(self, t: int, now: int) -> bool:
        with self._booking_lock:
            offer = self._offers.pop(t, None)
        if offer is None:
            return False
        # The offer may have lapsed in between; either way the slot is passed on.
        with contextlib.suppress(Error):
            self.inventory.release_hold(offer.slot, t)
        self._make_offers(now)
        return True

    def cancel(self, code: str) -> Booking:
        booking = self.inventory.cancel(code)
        if self.config.returned_slots == "waitlist":
            self._make_offers(self.now())
        return booking

    def release(
        self, override: bool = False, reason: str | None = None, actor: str = "operator"
    ) -> int:
        """Releases returned slots; refused before the window without an override and reason."""
        now = self.now()
        released = self._release_due_window(now, actor)
        if released is not None:
            return released
        reason = reason.strip() if reason else None
        if not override:
            next_window = self._schedule.next_at_or_after(now)
            raise ReleaseRefused("an early release needs an override with a reason", next_window)
        if not reason:
            raise InvalidArgument("an override release needs a reason")
        released = self.inventory.release_returned()
        self._audit("release_override", actor, released, reason)
        return released

    def _release_due_window(self, now: int, actor: str) -> int | None:
        with self._booking_lock:
            window = self._schedule.last_at_or_before(now)
            if window is None or window <= self._windows_done_until:
                return None
            self._windows_done_until = window
        if self.config.returned_slots == "waitlist":
            return 0
        released = self.inventory.release_returned()
        self._audit("release", actor, released, None)
        return released

    def _make_offers(self, now: int) -> int:
        """Offers each returned slot to the next waiting visitor without an offer, in order."""
        returned = self.inventory.returned_slots()
        if not returned or self.config.returned_slots != "waitlist":
            return 0
        made = 0
        with self._queue_lock, self._booking_lock:
            queue = self._queue
            until = now + self.config.offer_seconds * MICROS
            timeout = self.config.heartbeat_timeout_seconds * MICROS
            position = queue.cursor
            for slot in returned:
                chosen = None
                while position < len(queue.order):
                    t = queue.order[position]
                    seen = now - queue.tickets[t].last_seen <= timeout
                    if queue.waits_at(position) and seen and t not in self._offers:
                        chosen = t
                        position += 1
                        break
                    position += 1
                if chosen is None:
                    break
                try:
                    self.inventory.offer(slot, chosen, until)
                except NoHold:  # taken meanwhile by a release
                    continue
                self._offers[chosen] = Offer(slot, until)
                made += 1
            else:
                return made
        # Nobody is left waiting: the slots become free for everybody.
        freed = self.inventory.release_returned()
        self._audit("release_no_waitlist", "schedule", freed, None)
        return made

    def free_slots(self, group: str | None = None, offset: int = 0, limit: int = 100):
        return self.inventory.free_slots(group, self.now(), offset, limit)

    def slot(self, slot_id: str) -> SlotInfo:
        return self.inventory.slot(slot_id)

    def verify_pass(self, token: str) -> TokenInfo:
        return self._signer.verify(token, self.id, "pass", self.now() // MICROS)
