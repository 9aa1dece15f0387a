"""Where the state of the rooms lives, behind one async interface.

The HTTP layer talks to state only through :class:`Backend`, so the embedded memory backend
(:mod:`pyqueue.backends.memory`, one process) and a Redis backend (many processes and nodes)
are interchangeable. Methods return the core's value classes (``Ticket``, ``Hold``, ``RoomInfo``,
``Status``, …; the Redis backend builds them with their constructors), never a ``Room``, and
raise the core's exceptions (``pyqueue.PyqueueError`` subclasses) plus the two below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pyqueue._core import (
    AuditEntry,
    Booking,
    Draw,
    EntryUnknownKey,
    EntryVerifier,
    GroupAvailability,
    Hold,
    PassInfo,
    PyqueueError,
    RoomConfig,
    RoomInfo,
    SlotInfo,
    Status,
    Ticket,
    TickReport,
    VirtualClock,
)
from pyqueue.background import Periodic
from pyqueue.config import ConfigError, Settings
from pyqueue.redis_url import is_redis_url

#: The proxy check of a pass: ``(room, token, now)`` -> the ticket id, or a ``TokenError``
#: (``SessionEnded`` for a pass whose session is over). ``now`` is unix seconds, or None for
#: the rooms' own clock. Synchronous and from this process's memory: it runs on every request
#: of the protected site.
PassChecker = Callable[[str, str, int | None], int]

#: How often each backend's "retention" task looks for rooms whose personal data is due for
#: deletion. Retention is counted in hours; this only bounds how late within one it happens.
RETENTION_CHECK_SECONDS: Final = 5.0


def entry_verifier(verifier: EntryVerifier | None) -> EntryVerifier:
    """The server's entry verifier; a server without ``entry_keys`` refuses every entry token."""
    if verifier is None:
        error = EntryUnknownKey("this server has no entry keys (server.entry_keys)")
        error.code = "entry_unknown_key"
        raise error
    return verifier


class UnknownRoom(PyqueueError):
    """No room with this id."""

    code = "unknown_room"


class BackendUnavailable(PyqueueError):
    """The state store cannot be reached; the request may be retried."""

    code = "unavailable"


@dataclass(frozen=True)
class ClockStatus:
    """Where the time of the rooms comes from, for ``/readyz``.

    ``source`` is "system" (this node's clock: the memory backend, one process), "virtual"
    (tests and replays) or "redis" (Redis's clock, shared by every node).
    """

    source: str
    #: False while the rooms' time cannot be trusted (never read from Redis, or too long ago).
    ok: bool = True
    #: This node's clock minus the rooms' time, as last measured (Redis only).
    offset_seconds: float | None = None
    #: How long ago the rooms' time was last read from its source (Redis only).
    synced_seconds_ago: float | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "ok": self.ok,
            "offset_seconds": _rounded(self.offset_seconds),
            "synced_seconds_ago": _rounded(self.synced_seconds_ago),
        }


class Backend(Protocol):
    """The operations of the server on the state of its rooms.

    ``room`` is always a room id; an unknown one raises :class:`UnknownRoom`. Tokens are the
    visitor's ticket or pass; which kind an operation takes is said per method, and a token of
    the wrong kind, room or signature raises the matching ``TokenError``.
    """

    @property
    def kind(self) -> str:
        """Which store this is, "memory" or "redis" (the label of ``pyqueue_backend_up``)."""

    async def start(self) -> None:
        """Connects and loads what the backend needs before serving."""

    async def close(self) -> None:
        """Releases connections; called once at shutdown."""

    async def ready(self) -> bool:
        """Whether requests can be served now (for ``/readyz``)."""

    def now(self) -> float:
        """The time the rooms run on, Unix seconds (a virtual clock in tests and replays)."""

    def clock_status(self) -> ClockStatus:
        """Where :meth:`now` comes from, and whether it can be trusted now."""

    def tasks(self) -> Iterable[Periodic]:
        """The backend's background tasks, started by :meth:`start` (for ``/readyz``)."""

    # ----- rooms ------------------------------------------------------------------------------

    async def room_ids(self) -> list[str]: ...

    async def room_config(self, room: str) -> RoomConfig: ...

    async def create_room(self, config: RoomConfig, actor: str) -> None:
        """Adds a room; raises ``InvalidConfig`` when the id exists already."""

    async def update_room(self, config: RoomConfig, actor: str) -> None:
        """Changes a running room's settings (audited); the core refuses what may not change."""

    async def room_info(self, room: str) -> RoomInfo: ...

    async def draw(self, room: str) -> Draw | None: ...

    async def tick(self, room: str) -> TickReport:
        """Admissions, expired sessions, hold and offer sweeps and scheduled releases."""

    async def pause(self, room: str, actor: str) -> None: ...

    async def resume(self, room: str, actor: str) -> None: ...

    async def queue_all(self, room: str, on: bool, actor: str) -> None: ...

    async def audit_log(self, room: str) -> Sequence[AuditEntry]: ...

    # ----- visitors ---------------------------------------------------------------------------

    async def join(
        self,
        room: str,
        identity: str | None,
        resume: str | None,
        entry: str | None = None,
        label: str | None = None,
    ) -> Ticket:
        """Joins, or resumes the place of ``identity`` or of the ticket token ``resume``.

        ``identity`` is one the caller vouches for; ``label`` is text a visitor's client sent
        (the HTTP routes' ``identity``): a new ticket keeps it, but it finds no ticket.
        ``entry`` is the portal's entry token: checked, its ``jti`` used up (once across every
        process of the backend), and its ``sub`` taken as the identity. A room with identity
        "entry" refuses joins with neither an entry token nor a ticket (``EntryRequired``)."""

    async def use_challenge(self, room: str, challenge: str, until: float) -> bool:
        """True the first time a proof-of-work ``challenge`` (its hex hash) is spent, in any
        process; it is remembered until ``until`` (Unix seconds, the challenge's expiry)."""

    async def status(self, room: str, ticket: str) -> Status:
        """The status of a ticket token (a pass is refused); counts as its heartbeat."""

    async def leave(self, room: str, token: str) -> str:
        """Gives up the place (ticket) or the session (pass); returns the state it was in."""

    async def complete(self, room: str, pass_token: str) -> None:
        """Ends an admitted session, giving its capacity back."""

    async def verify_pass(self, room: str, pass_token: str) -> PassInfo:
        """Checks a pass of this room, and that its session is still on (``SessionEnded``)."""

    def pass_checker(self) -> PassChecker:
        """The check of ``/v1/check``; see :data:`PassChecker`."""

    # ----- slots and bookings -----------------------------------------------------------------

    async def add_slots(self, room: str, slots: Iterable[Mapping[str, Any]], actor: str) -> int:
        """Loads slots, all or nothing; returns how many."""

    async def availability(self, room: str) -> Sequence[GroupAvailability]: ...

    async def free_slots(
        self, room: str, group: str | None, offset: int, limit: int
    ) -> Sequence[SlotInfo]: ...

    async def hold(self, room: str, slot: str, pass_token: str) -> Hold:
        """Atomically claims a free slot for the pass's visitor."""

    async def confirm(self, room: str, slot: str, token: str) -> Booking:
        """Confirms the hold (pass) or the waiting-list offer (ticket or pass) on ``slot``."""

    async def release_hold(self, room: str, slot: str, token: str) -> None: ...

    async def decline_offer(self, room: str, token: str) -> None: ...

    async def booking(self, room: str, code: str) -> Booking: ...

    async def cancel(self, room: str, code: str) -> tuple[Booking, bool]:
        """Cancels by code; the slot returns at the next window or to the waiting list. Returns
        the cancelled booking and whether this call cancelled it (false: it was cancelled
        before, and nothing changed), which the server counts by."""

    async def release(self, room: str, override: bool, reason: str | None, actor: str) -> int:
        """Releases returned slots; before the window only with ``override`` and a reason."""

    async def forget_personal_data(self, room: str, actor: str) -> dict[str, int]:
        """Deletes the room's identities, labels and booking codes now, from memory and from
        what is stored (``RoomNotClosed`` while the room has not closed); audited with the
        counts, which it returns by kind (``identities``, ``labels``, ``booking_codes``).
        The backend's "retention" background task does the same once a room's
        ``retain_personal_data_hours`` have run out."""


def open_backend(settings: Settings, clock: VirtualClock | None = None) -> Backend:
    """The backend the settings name, with the configured rooms in it."""
    url = settings.server.backend
    if url == "memory":
        from pyqueue.backends.memory import MemoryBackend

        return MemoryBackend.from_settings(settings, clock)
    if is_redis_url(url):
        from pyqueue.backends.redis_backend import RedisBackend

        return RedisBackend.from_settings(settings, clock)
    raise ConfigError(f"server.backend {url!r}: not a backend this build knows")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


__all__ = [
    "RETENTION_CHECK_SECONDS",
    "Backend",
    "BackendUnavailable",
    "ClockStatus",
    "PassChecker",
    "UnknownRoom",
    "entry_verifier",
    "open_backend",
]
