"""What one process knows of a room, so that a status poll needs no Redis command.

Per room: the counters of the ``meta`` hash (cursor, flags, the line's measurement), the queue
places given up by waiting tickets (from the room's ``changes`` list, read from the last index
this process knows), and the records of the tickets this process has seen. One pipelined read
refreshes all of it, at most every ``refresh_seconds`` and right after this process changed the
room. A waiting ticket's ``ahead`` is then exact for that snapshot: the positions between the
cursor and its own, minus those given up.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left, insort
from dataclasses import dataclass

from pyqueue._core import Eta, Line
from pyqueue.backends.redis_backend.records import MICROS


@dataclass(slots=True)
class TicketRecord:
    """A ticket as the scripts store it (times in micros; position -1 before the draw)."""

    state: str
    position: int
    joined: int
    admitted: int
    expires: int
    ahead_at_start: int

    @classmethod
    def from_reply(cls, fields: list[bytes]) -> tuple[int, TicketRecord]:
        """From a script's ``{id, state, position, joined, admitted, expires, ahead0, …}``."""
        return int(fields[0]), cls(
            fields[1].decode(),
            int(fields[2]),
            int(fields[3]),
            int(fields[4]),
            int(fields[5]),
            int(fields[6]),
        )

    @classmethod
    def from_packed(cls, raw: bytes) -> TicketRecord:
        """From the ``tickets`` hash: ``state|position|joined|seen|admitted|expires|ahead0``."""
        f = raw.decode().split("|")
        return cls(f[0], int(f[1]), int(f[2]), int(f[4]), int(f[5]), int(f[6]))


class RoomCache:
    """One room's counters as of the last refresh; see the module's docstring."""

    def __init__(self) -> None:
        self.meta: dict[str, float] = {}
        self._line: Line | None = None
        self.prequeue_length = 0
        self.changes_read = 0
        self.offers: dict[int, tuple[str, int]] = {}
        # Queue places given up by waiting tickets, sorted: counted out of `ahead`.
        self._gave_up: list[int] = []
        self.tickets: dict[int, TicketRecord] = {}
        #: Ticket -> admission second of its last session that ended early (left, completed),
        #: from the change feed: a pass issued at or before it is refused.
        self.ended: dict[int, int] = {}
        self.refreshed_at = -math.inf
        self.stale = True
        #: Heartbeats seen since the last flush: ticket -> micros.
        self.seen: dict[int, int] = {}

    def due(self, refresh_seconds: float) -> bool:
        return self.stale or time.monotonic() - self.refreshed_at >= refresh_seconds

    def age(self) -> float:
        return time.monotonic() - self.refreshed_at

    def apply(
        self,
        meta: dict[bytes, bytes],
        changes: list[bytes],
        changes_from: int,
        prequeue_length: int,
        offers: dict[bytes, bytes],
    ) -> None:
        """Takes in one snapshot: a refresh's pipelined reads, or what a tick returned.

        ``changes`` were read from index ``changes_from``; a tick and a refresh may overlap, so
        only entries this cache has not taken in yet are applied (each exactly once).
        """
        self.meta = {k.decode(): float(v) for k, v in meta.items() if _is_number(v)}
        self._line = None
        skip = self.changes_read - changes_from
        if skip < 0:
            self.stale = True  # a gap: read again from where this cache is
            return
        for entry in changes[skip:]:
            # ``ticket:position`` or, for an ended session, ``ticket:position:admitted``.
            fields = entry.decode().split(":")
            ticket, position = int(fields[0]), int(fields[1])
            self.tickets.pop(ticket, None)
            if position >= 0:
                insort(self._gave_up, position)
            if len(fields) > 2:
                self.note_ended(ticket, int(fields[2]) // MICROS)
        self.changes_read = max(self.changes_read, changes_from + len(changes))
        self.prequeue_length = prequeue_length
        self.offers = {}
        for holder, value in offers.items():
            slot, _, until = value.decode().rpartition("|")
            self.offers[int(holder)] = (slot, int(until))
        self.refreshed_at = time.monotonic()
        self.stale = False

    def note_ended(self, ticket: int, admitted_second: int) -> None:
        """The session admitted at ``admitted_second`` (unix seconds) of ``ticket`` is over."""
        self.ended[ticket] = max(self.ended.get(ticket, admitted_second), admitted_second)

    def session_ended(self, ticket: int, issued_at: int) -> bool:
        """Whether a pass of ``ticket`` issued at ``issued_at`` (its admission second) stands
        for a session that is over. One dict look-up: it runs on every proxy check."""
        return self.ended.get(ticket, -1) >= issued_at

    def count(self, name: str) -> int:
        return int(self.meta.get(name, 0.0))

    def flag(self, name: str) -> bool:
        return self.meta.get(name, 0.0) == 1.0

    def record(self, ticket: int) -> TicketRecord | None:
        """The cached record, or None when it may have changed since it was read."""
        record = self.tickets.get(ticket)
        if record is None:
            return None
        if record.state == "waiting" and record.position < self.count("cursor"):
            return None  # the cursor passed it: admitted, abandoned or closed
        if record.state == "prequeue" and (self.flag("drawn") or self.flag("closed")):
            return None
        return record

    def ahead(self, position: int) -> int:
        """Waiting tickets in front of ``position``."""
        cursor = self.count("cursor")
        if position <= cursor:
            return 0
        gave_up = bisect_left(self._gave_up, position) - bisect_left(self._gave_up, cursor)
        return position - cursor - gave_up

    def waiting(self) -> int:
        return self.count("nwait") + self.prequeue_waiting()

    def prequeue_waiting(self) -> int:
        if self.flag("drawn") or self.flag("closed"):
            return 0
        return max(0, self.prequeue_length - self.count("pre_left"))

    def line(self) -> Line:
        """What the core's wait estimate rests on, from the counters the scripts keep (the
        settings, the room's state and the line's measurement); built once per snapshot."""
        line = self._line
        if line is None:
            count = self.count
            line = self._line = Line(
                admit_per_second=self.meta.get("rate", 0.0),
                max_active=count("max_active"),
                session_seconds=self.meta.get("session_us", 0.0) / MICROS,
                active=count("active"),
                paused=self.flag("paused"),
                completed=count("c_completed"),
                expired=count("c_expired"),
                passed=count("ln_passed"),
                admitted=count("ln_admitted"),
                measured_micros=count("ln_us"),
                filled=self.flag("ln_filled"),
                recent_passed=count("lr_passed"),
                recent_admitted=count("lr_admitted"),
                recent_micros=count("lr_us"),
                earlier_passed=count("le_passed"),
                earlier_admitted=count("le_admitted"),
                earlier_micros=count("le_us"),
            )
        return line

    def estimate(self, distance: int) -> Eta:
        """The wait of a ticket ``distance`` places from the cursor (the core's estimate)."""
        return self.line().estimate(max(0, distance))


def _is_number(value: bytes) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    """A hash as a script returns it (field, value, field, value, …) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))
