"""The fair queue of one room in plain Python, ported rule for rule from ``queue_core/src``:
tickets and status (``queue.rs``) and the admission tick (``admission.rs``); the draw, the
waiting index and the estimates are in ``bench.reference_order``.

Pure state transitions driven by an explicit ``now`` in microseconds; the locking and the tokens
live in ``bench.reference.Room``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from bench.reference_errors import (
    IdentityRequired,
    InvalidArgument,
    NotAdmitted,
    NotOpenYet,
    RoomClosed,
    TokenExpired,
    UnknownTicket,
)
from bench.reference_order import ZERO_ESTIMATE, CursorSpeed, Estimate, WaitingIndex, draw_order

MICROS = 1_000_000
NO_POSITION = -1
MAX_IDENTITY_LEN = 256

PREQUEUE = "prequeue"
WAITING = "waiting"
ADMITTED = "admitted"
COMPLETED = "completed"
EXPIRED = "expired"
ABANDONED = "abandoned"
LEFT = "left"
CLOSED = "closed"
# States from which joining again puts the ticket back at the end of the line.
_MAY_REQUEUE = frozenset((ABANDONED, LEFT, EXPIRED))


# ----- tickets and the queue ----------------------------------------------------------------


class Ticket:
    __slots__ = (
        "admitted_at",
        "ahead_at_start",
        "joined_at",
        "last_seen",
        "pass_expires_at",
        "position",
        "state",
    )

    def __init__(self, now: int) -> None:
        self.state = PREQUEUE
        self.position = NO_POSITION
        self.joined_at = now
        self.last_seen = now
        self.admitted_at = 0
        self.pass_expires_at = 0
        self.ahead_at_start = 0


@dataclass(slots=True)
class StatusView:
    ticket: int
    state: str
    ahead: int | None
    ahead_at_start: int | None
    eta: Estimate
    opens_in_seconds: float
    pass_expires_at: int | None
    paused: bool


@dataclass(slots=True)
class TickOutcome:
    admitted: int = 0
    abandoned: int = 0
    expired: int = 0


@dataclass(slots=True)
class Counters:
    joined: int = 0
    admitted: int = 0
    abandoned: int = 0
    left: int = 0
    completed: int = 0
    expired: int = 0


@dataclass(frozen=True, slots=True)
class Draw:
    seed: int
    at: int
    joined: list[int]
    mode: str


def seconds_between(now: int, then: int) -> float:
    return max(then - now, 0) / MICROS


class QueueState:
    """Tickets, the pre-queue, the queue order, the waiting index and the admission state."""

    def __init__(self, config) -> None:
        self.config = config
        self.tickets: list[Ticket] = []
        self.identities: dict[str, int] = {}
        self.prequeue: list[int] = []
        self.prequeue_left = 0
        self.draw: Draw | None = None
        # Ticket id per queue position; a requeued ticket leaves a stale entry behind.
        self.order: list[int] = []
        self.waiting = WaitingIndex()
        self.cursor = 0
        self.active = 0
        # (pass expiry, ticket) of admitted sessions; stale entries are skipped when popped.
        self.sessions: list[tuple[int, int]] = []
        self.allowance = 0.0
        self.accrued_until = config.opens_at
        self.last_tick = config.opens_at
        self.paused = False
        self.queue_all = False
        self.closed = False
        self.speed = CursorSpeed(config.admit_per_minute / 60.0)
        self.counters = Counters()

    def is_open(self, now: int) -> bool:
        return now >= self.config.opens_at and not self.closed

    def join(self, now: int, identity: str | None, resume: int | None) -> tuple[int, bool]:
        self.advance_phase(now)
        config = self.config
        if self.closed:
            raise RoomClosed
        pre = config.prequeue_opens_at
        if pre is not None and now < pre:
            raise NotOpenYet(seconds_between(now, pre))
        if identity is not None:
            if not identity or len(identity.encode()) > MAX_IDENTITY_LEN:
                raise InvalidArgument(f"identity must be 1 to {MAX_IDENTITY_LEN} bytes")
            existing = self.identities.get(identity)
        elif config.identity == "required":
            raise IdentityRequired
        else:
            existing = None
        if existing is None and resume is not None:
            if resume >= len(self.tickets):
                raise UnknownTicket
            existing = resume
        if existing is not None:
            ticket = self.tickets[existing]
            ticket.last_seen = now
            if ticket.state in _MAY_REQUEUE:
                self._enqueue(existing, now)
            return existing, False
        t = len(self.tickets)
        self.tickets.append(Ticket(now))
        if identity is not None:
            self.identities[identity] = t
        self.counters.joined += 1
        if self.draw is not None:
            self._enqueue(t, now)
        else:
            self.prequeue.append(t)
        return t, True

    def _enqueue(self, t: int, now: int) -> None:
        """Puts a ticket at the tail, and lets it straight through when nobody waits."""
        position = len(self.order)
        self.order.append(t)
        self.waiting.push(True)
        ahead = self.waiting.ahead_of(position)
        ticket = self.tickets[t]
        ticket.state = WAITING
        ticket.position = position
        ticket.ahead_at_start = ahead
        if ahead == 0 and self._may_admit_at_once(now):
            self._settle_cursor()
            self.admit(t, now)
            self.cursor += 1

    def _may_admit_at_once(self, now: int) -> bool:
        if (
            self.paused
            or self.queue_all
            or not self.is_open(now)
            or self.active >= self.config.max_active
        ):
            return False
        self.accrue(now)
        return self.allowance >= 1.0

    def _settle_cursor(self) -> None:
        while self.cursor < len(self.order) and not self.waits_at(self.cursor):
            self.cursor += 1

    def waits_at(self, position: int) -> bool:
        ticket = self.tickets[self.order[position]]
        return ticket.state == WAITING and ticket.position == position

    def admit(self, t: int, now: int) -> None:
        ticket = self.tickets[t]
        self.waiting.remove(ticket.position)
        expires = now + self.config.session_seconds * MICROS
        ticket.state = ADMITTED
        ticket.admitted_at = now
        ticket.pass_expires_at = expires
        heapq.heappush(self.sessions, (expires, t))
        self.active += 1
        self.allowance -= 1.0
        self.counters.admitted += 1

    def accrue(self, now: int) -> None:
        """Adds rate x elapsed to the allowance, capped at one second's worth."""
        start = max(self.accrued_until, self.config.opens_at)
        if now <= start:
            return
        self.accrued_until = now
        if self.paused:
            return
        rate = self.config.admit_per_minute / 60.0
        earned = rate * (now - start) / MICROS
        self.allowance = min(self.allowance + earned, max(rate, 1.0))

    def advance_phase(self, now: int) -> None:
        if self.draw is None and now >= self.config.opens_at:
            self._open(now)
        closes_at = self.config.closes_at
        if not self.closed and closes_at is not None and now >= closes_at:
            self._close()

    def _open(self, now: int) -> None:
        joined = self.prequeue
        self.prequeue = []
        self.prequeue_left = 0
        if self.config.prequeue == "shuffle":
            order = [joined[i] for i in draw_order(len(joined), self.config.seed)]
        else:
            order = list(joined)
        tickets = self.tickets
        all_waiting = all(tickets[t].state == PREQUEUE for t in order)
        if all_waiting:
            self.waiting.extend_waiting(len(order))
        ahead = 0
        for position, t in enumerate(order):
            ticket = tickets[t]
            waits = ticket.state == PREQUEUE
            if not all_waiting:
                self.waiting.push(waits)
            ticket.position = position
            if waits:
                # Everyone gets a full heartbeat period from opening before counting as gone.
                ticket.last_seen = max(ticket.last_seen, now)
                ticket.state = WAITING
                ticket.ahead_at_start = ahead
                ahead += 1
        self.order = order
        self.draw = Draw(self.config.seed, now, joined, self.config.prequeue)

    def _close(self) -> None:
        self.closed = True
        for position in range(self.cursor, len(self.order)):
            if self.waits_at(position):
                self.waiting.remove(position)
                self.tickets[self.order[position]].state = CLOSED
        for t in self.prequeue:
            if self.tickets[t].state == PREQUEUE:
                self.tickets[t].state = CLOSED
        self.prequeue = []
        self.prequeue_left = 0
        self.cursor = len(self.order)

    def ticket(self, t: int) -> Ticket:
        if not 0 <= t < len(self.tickets):
            raise UnknownTicket
        return self.tickets[t]

    def status(self, t: int, now: int) -> StatusView:
        """The status of a ticket; also its heartbeat."""
        self.advance_phase(now)
        self._expire_session(t, now)
        ticket = self.tickets[t]
        ticket.last_seen = now
        opens_in_seconds = seconds_between(now, self.config.opens_at)
        state = ticket.state
        if state == WAITING:
            position = ticket.position
            distance = max(position + 1 - self.cursor, 0)
            return StatusView(
                t,
                state,
                self.waiting.ahead_of(position),
                ticket.ahead_at_start,
                self.speed.estimate(distance),
                opens_in_seconds,
                None,
                self.paused,
            )
        view = StatusView(t, state, None, None, ZERO_ESTIMATE, opens_in_seconds, None, self.paused)
        if state == PREQUEUE:
            view.eta = self._prequeue_estimate(opens_in_seconds)
        elif state == ADMITTED:
            view.pass_expires_at = ticket.pass_expires_at
        return view

    def _prequeue_estimate(self, opens_in_seconds: float) -> Estimate:
        whole = (len(self.prequeue) - self.prequeue_left) / (self.config.admit_per_minute / 60.0)
        return Estimate(
            opens_in_seconds, opens_in_seconds + whole / 2.0, opens_in_seconds + whole, False
        )

    def _expire_session(self, t: int, now: int) -> None:
        ticket = self.ticket(t)
        if ticket.state == ADMITTED and now >= ticket.pass_expires_at:
            ticket.state = EXPIRED
            self.active -= 1
            self.counters.expired += 1

    def leave(self, t: int, now: int) -> str:
        self.advance_phase(now)
        ticket = self.ticket(t)
        before = ticket.state
        if before == PREQUEUE:
            self.prequeue_left += 1
        elif before == WAITING:
            self.waiting.remove(ticket.position)
        elif before == ADMITTED:
            self.active -= 1
        else:
            return before
        ticket.state = LEFT
        self.counters.left += 1
        return before

    def complete(self, t: int, now: int) -> None:
        self._expire_session(t, now)
        ticket = self.tickets[t]
        if ticket.state == ADMITTED:
            ticket.state = COMPLETED
            self.active -= 1
            self.counters.completed += 1
        elif ticket.state == EXPIRED:
            raise TokenExpired
        elif ticket.state != COMPLETED:
            raise NotAdmitted

    def waiting_count(self) -> int:
        return self.waiting.total + len(self.prequeue) - self.prequeue_left

    def draw_order_of(self, draw: Draw) -> list[int]:
        if draw.mode == "shuffle":
            return [draw.joined[i] for i in draw_order(len(draw.joined), draw.seed)]
        return list(draw.joined)

    # ----- the admission tick ---------------------------------------------------------------

    def tick(self, now: int) -> TickOutcome:
        self.advance_phase(now)
        outcome = TickOutcome()
        if now < self.config.opens_at or self.closed:
            return outcome
        outcome.expired = self._expire_sessions(now)
        elapsed = now - max(self.last_tick, self.config.opens_at)
        self.last_tick = max(self.last_tick, now)
        self.accrue(now)
        if self.paused:
            return outcome
        backed_up = self.waiting.total > 0
        capacity = max(self.config.max_active - self.active, 0)
        budget = min(capacity, int(max(self.allowance, 0.0)))
        timeout = self.config.heartbeat_timeout_seconds * MICROS
        order, tickets = self.order, self.tickets
        start = cursor = self.cursor
        size = len(order)
        while cursor < size:
            t = order[cursor]
            ticket = tickets[t]
            if ticket.state != WAITING or ticket.position != cursor:
                cursor += 1
                continue
            if now - ticket.last_seen > timeout:
                # Gone quietly: skipped, and no capacity used.
                ticket.state = ABANDONED
                self.waiting.remove(cursor)
                self.counters.abandoned += 1
                outcome.abandoned += 1
                cursor += 1
                continue
            if budget == 0:
                break
            self.admit(t, now)
            budget -= 1
            outcome.admitted += 1
            cursor += 1
        self.cursor = cursor
        # Only intervals in which people kept waiting tell how fast the queue moves.
        if backed_up and self.waiting.total > 0 and elapsed > 0:
            self.speed.record(cursor - start, elapsed)
        return outcome

    def _expire_sessions(self, now: int) -> int:
        expired = 0
        sessions, tickets = self.sessions, self.tickets
        while sessions and sessions[0][0] <= now:
            expires, t = heapq.heappop(sessions)
            ticket = tickets[t]
            if ticket.state == ADMITTED and ticket.pass_expires_at == expires:
                ticket.state = EXPIRED
                self.active -= 1
                self.counters.expired += 1
                expired += 1
        return expired
