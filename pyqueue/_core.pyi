"""Type stubs of the native core ``pyqueue._core`` (checked against the binary by stubtest)."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Literal, Self, TypeAlias, final

__version__: str
JOURNAL_FORMAT_VERSION: int

_TicketState: TypeAlias = Literal[
    "prequeue", "waiting", "admitted", "completed", "expired", "abandoned", "left", "closed"
]
_TimeLike: TypeAlias = datetime | str
_SlotState: TypeAlias = Literal["free", "held", "offered", "booked", "returned"]
_EtaReason: TypeAlias = Literal["rate", "capacity", "expiry", "paused", "measuring"]
_RoomState: TypeAlias = Literal["prequeue", "open", "paused", "closed", "sold_out"]

@final
class VirtualClock:
    """A clock that moves only when told to; rooms built with it see only its time."""

    def __new__(cls, start: _TimeLike) -> Self: ...
    def advance(self, seconds: float) -> None:
        """Moves the clock forward by ``seconds`` (not negative)."""
    def set(self, when: _TimeLike) -> None:
        """Sets the clock; raises ``InvalidArgument`` when that would go backwards."""
    def now(self) -> datetime:
        """The clock's time, UTC-aware."""
    def timestamp(self) -> float:
        """Seconds since the Unix epoch."""

@final
class Signer:
    """Token keys by id. The first key signs; every key verifies, so keys rotate smoothly."""

    def __new__(cls, keys: Mapping[str, str | bytes]) -> Self: ...
    @property
    def key_ids(self) -> list[str]: ...
    def sign(
        self,
        kind: str,
        room: str,
        ticket: int,
        issued_at: int,
        expires_at: int,
        sub: str | None = None,
    ) -> str:
        """Signs a token of ``kind`` ("ticket" or "pass"); times are Unix seconds. ``sub`` is
        the vouched identity of an entry room's visitor, carried in the token."""
    def verify(
        self,
        token: str,
        room: str | None = None,
        kind: str | None = None,
        now: int | None = None,
    ) -> TokenInfo:
        """Verifies a token; raises a ``TokenError`` subclass naming the failure."""

@final
class TokenInfo:
    """What a verified token says."""

    @property
    def kind(self) -> str: ...
    @property
    def room(self) -> str: ...
    @property
    def ticket(self) -> int: ...
    @property
    def issued_at(self) -> int: ...
    @property
    def expires_at(self) -> int: ...
    @property
    def sub(self) -> str | None:
        """The vouched identity of the holder (the entry token's ``sub``), in entry rooms."""

@final
class PassInfo:
    """What a booking site learns from a valid pass."""

    def __new__(
        cls,
        *,
        room: str,
        ticket: int,
        issued_at: _TimeLike,
        expires_at: _TimeLike,
        sub: str | None = None,
    ) -> Self: ...
    @property
    def room(self) -> str: ...
    @property
    def ticket(self) -> int: ...
    @property
    def issued_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def sub(self) -> str | None:
        """The person the pass was issued to (the entry token's ``sub``), in entry rooms: bind
        the booking to it."""

@final
class EntryClaims:
    """What a valid entry token vouches for."""

    @property
    def sub(self) -> str: ...
    @property
    def jti(self) -> str: ...
    @property
    def kid(self) -> str: ...
    @property
    def issued_at(self) -> int: ...
    @property
    def expires_at(self) -> int: ...

@final
class EntryVerifier:
    """The portal's keys for entry tokens (JWTs) by id, with one pinned algorithm: "EdDSA"
    (Ed25519 public keys: base64url of the 32 raw bytes, or PEM) or "HS256" (secrets of at
    least 32 bytes). Every key verifies, so keys rotate without logging anyone out."""

    def __new__(cls, keys: Mapping[str, str | bytes], algorithm: str = "EdDSA") -> Self: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def key_ids(self) -> list[str]: ...
    @property
    def remembered(self) -> int:
        """How many jtis the replay store holds now."""
    def verify(self, token: str, room: str, now: int | None = None) -> EntryClaims:
        """Checks an entry token for ``room`` without using up its jti; raises an
        ``EntryError`` subclass naming the failure."""
    def accept(self, token: str, room: str, now: int | None = None) -> EntryClaims:
        """Checks an entry token and uses up its jti in this process (``EntryReplayed`` on a
        second use, until the token expired)."""

def sign_entry(
    key: str | bytes,
    kid: str,
    room: str,
    sub: str,
    *,
    algorithm: str = "EdDSA",
    lifetime_seconds: int = 300,
    jti: str | None = None,
    now: int | None = None,
) -> str:
    """Signs an entry token (a JWT with aud, sub, iat, exp, jti) for portals in Python.
    ``key`` is the Ed25519 private key (32 raw bytes, their base64url, or PEM "PRIVATE KEY")
    for "EdDSA", the shared secret for "HS256"; ``jti`` defaults to 128 random bits."""

def entry_public_key(private_key: str | bytes) -> str:
    """The public key (base64url, 32 raw bytes) of an Ed25519 private key: for ``entry_keys``."""

@final
class RoomConfig:
    """A room's configuration, validated when built: every setting against its documented
    range (``input_rules()``); ``InvalidConfig`` otherwise, whose message names each setting
    in the wrong (``mistakes`` lists them)."""

    def __new__(
        cls,
        id: str,
        opens_at: _TimeLike,
        *,
        admit_per_minute: float = 600.0,
        max_active: int = 500,
        session_seconds: int = 900,
        heartbeat_timeout_seconds: int = 120,
        closes_at: _TimeLike | None = None,
        prequeue_opens_at: _TimeLike | None = None,
        prequeue: str = "shuffle",
        identity: str = "optional",
        returned_slots: str = "windows",
        release_windows: list[str] = ...,
        timezone: str = "UTC",
        max_bookings_per_identity: int = 1,
        hold_seconds: int = 300,
        offer_seconds: int = 600,
        handoff_url: str | None = None,
        seed: int | None = None,
        challenge_max_number: int = 0,
        retain_personal_data_hours: int = 168,
    ) -> Self: ...
    @staticmethod
    def mistakes(id: str, settings: Mapping[str, Any]) -> list[str]:
        """Every mistake of some settings of room ``id`` (by name, values as the constructor
        takes them), a message each naming its setting; nothing is raised for them. A setting
        not given, or given as None, is not checked. Empty exactly when the constructor
        accepts these settings (with ``opens_at``)."""
    @staticmethod
    def saved(settings: Mapping[str, Any]) -> RoomConfig:
        """A config from settings saved earlier (every setting by name, times as RFC 3339
        strings), held only to what the core relies on, not today's ranges: a room saved before
        a range was narrowed keeps its settings. ``InvalidConfig`` for a missing, unknown or
        unusable setting."""
    def saved_settings(self) -> dict[str, Any]:
        """Every setting by name, times as RFC 3339 strings: what ``saved`` reads back."""
    def check_change(self, new: RoomConfig, *, opened: bool, closed: bool, now: _TimeLike) -> None:
        """Refuses with ``InvalidConfig`` a change a running room may not take: its id; once
        ``opened``, ``opens_at``, ``prequeue`` and ``seed``; once ``closed``, a closing time
        that would reopen it."""
    def outside_ranges(self) -> list[str]:
        """A message for each setting outside today's documented range; empty for any config
        the constructor accepts (one from ``saved`` may have some)."""
    @property
    def id(self) -> str: ...
    @property
    def opens_at(self) -> datetime: ...
    @property
    def closes_at(self) -> datetime | None: ...
    @property
    def prequeue_opens_at(self) -> datetime | None: ...
    @property
    def admit_per_minute(self) -> float: ...
    @property
    def max_active(self) -> int: ...
    @property
    def session_seconds(self) -> int: ...
    @property
    def heartbeat_timeout_seconds(self) -> int: ...
    @property
    def prequeue(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def returned_slots(self) -> str: ...
    @property
    def release_windows(self) -> list[str]: ...
    @property
    def timezone(self) -> str: ...
    @property
    def max_bookings_per_identity(self) -> int: ...
    @property
    def hold_seconds(self) -> int: ...
    @property
    def offer_seconds(self) -> int: ...
    @property
    def handoff_url(self) -> str | None: ...
    @property
    def seed(self) -> int:
        """Seed of the pre-queue draw (random unless given); recorded for audits."""
    @property
    def challenge_max_number(self) -> int:
        """Proof-of-work difficulty of a join (ALTCHA's ``maxnumber``); 0: no challenge."""
    @property
    def retain_personal_data_hours(self) -> int:
        """Hours the room's personal data is kept once the room is over."""
    def personal_data_due_at(self, last_slot_start: _TimeLike | None = None) -> datetime | None:
        """When the room's personal data is to be deleted: ``retain_personal_data_hours`` after
        the later of ``closes_at`` and the last slot's start; None without ``closes_at``."""

@final
class Ticket:
    """A place in the queue; ``token`` is what the visitor keeps."""

    def __new__(cls, *, id: int, token: str, state: str, new: bool) -> Self:
        """``state`` is checked: one of the ticket states."""
    @property
    def id(self) -> int: ...
    @property
    def token(self) -> str: ...
    @property
    def state(self) -> _TicketState: ...
    @property
    def new(self) -> bool:
        """False when the identity or resumed token already had this ticket."""

@final
class Eta:
    """A wait estimate as a range, in seconds; ``known`` once measured, not assumed;
    ``reason`` says what it rests on."""

    def __new__(
        cls,
        *,
        low: float,
        seconds: float,
        high: float,
        known: bool,
        reason: _EtaReason,
        admit_per_second: float,
    ) -> Self: ...
    @property
    def low(self) -> float: ...
    @property
    def seconds(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def known(self) -> bool: ...
    @property
    def reason(self) -> _EtaReason:
        """``rate``, ``capacity`` (the booking site is full), ``expiry`` (full, and sessions end
        only when their passes expire), ``paused`` or ``measuring``."""
    @property
    def admit_per_second(self) -> float:
        """The admission speed the estimate assumes."""

@final
class Line:
    """What a wait estimate rests on, from counters kept elsewhere (the Redis backend's): the
    measurement since it (re)started, and the same counters over the recent stretch and the one
    before it (``RECENT_STRETCH_MICROS`` each)."""

    def __new__(
        cls,
        *,
        admit_per_second: float,
        max_active: int,
        session_seconds: float,
        active: int,
        paused: bool,
        completed: int,
        expired: int,
        passed: int,
        admitted: int,
        measured_micros: int,
        filled: bool,
        recent_passed: int = 0,
        recent_admitted: int = 0,
        recent_micros: int = 0,
        earlier_passed: int = 0,
        earlier_admitted: int = 0,
        earlier_micros: int = 0,
    ) -> Self: ...
    def estimate(self, distance: int) -> Eta:
        """The wait of a ticket ``distance`` places from the cursor (1 = next in line)."""
    def prequeue_estimate(self, opens_in_seconds: float, waiting: int) -> Eta:
        """The wait of a pre-queue entry before the draw."""
    @property
    def measured_per_second(self) -> float | None:
        """Positions passed a second while the line was backed up, once anything was measured."""

@final
class Offer:
    """A waiting-list offer: a returned slot held for this visitor until ``until``."""

    def __new__(cls, *, slot: str, until: _TimeLike) -> Self: ...
    @property
    def slot(self) -> str: ...
    @property
    def until(self) -> datetime: ...
    @property
    def until_timestamp(self) -> float: ...

@final
class Status:
    """A ticket's status at one moment, ``at``."""

    def __new__(
        cls,
        *,
        ticket: int,
        state: str,
        at: _TimeLike,
        eta: Eta,
        ahead: int | None = None,
        ahead_at_start: int | None = None,
        opens_in_seconds: float = 0.0,
        pass_token: str | None = None,
        pass_expires_at: _TimeLike | None = None,
        offer: Offer | None = None,
        paused: bool = False,
    ) -> Self:
        """``state`` is checked: one of the ticket states; times and seconds are checked too."""
    @property
    def ticket(self) -> int: ...
    @property
    def state(self) -> _TicketState: ...
    @property
    def ahead(self) -> int | None:
        """Waiting tickets in front (never increases); None before the draw and once through."""
    @property
    def ahead_at_start(self) -> int | None: ...
    @property
    def eta(self) -> Eta: ...
    @property
    def opens_in_seconds(self) -> float: ...
    @property
    def pass_token(self) -> str | None: ...
    @property
    def pass_expires_at(self) -> datetime | None: ...
    @property
    def pass_expires_in_seconds(self) -> float:
        """Seconds the pass is still valid at ``at`` (0 when there is none)."""
    @property
    def offer(self) -> Offer | None: ...
    @property
    def at(self) -> datetime:
        """The moment this status describes."""
    @property
    def paused(self) -> bool: ...

@final
class Hold:
    """A slot held for one visitor until ``until``."""

    def __new__(
        cls, *, slot: str, group: str, starts_at: _TimeLike, ticket: int, until: _TimeLike
    ) -> Self: ...
    @property
    def slot(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ticket(self) -> int: ...
    @property
    def until(self) -> datetime: ...
    @property
    def until_timestamp(self) -> float: ...

@final
class Booking:
    """A confirmed booking; ``code`` cancels it. A cancelled one keeps answering by its code,
    with ``state`` "cancelled" and ``cancelled_at``."""

    def __new__(
        cls,
        *,
        code: str,
        slot: str,
        group: str,
        starts_at: _TimeLike,
        ticket: int,
        cancelled_at: _TimeLike | None = None,
    ) -> Self: ...
    @property
    def code(self) -> str: ...
    @property
    def state(self) -> Literal["booked", "cancelled"]:
        """``booked``, or ``cancelled`` once cancelled (at ``cancelled_at``)."""
    @property
    def cancelled_at(self) -> datetime | None: ...
    @property
    def slot(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ticket(self) -> int: ...

@final
class SlotInfo:
    def __new__(
        cls,
        *,
        id: str,
        group: str,
        starts_at: _TimeLike,
        state: str,
        until: _TimeLike | None = None,
    ) -> Self: ...
    @property
    def id(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def state(self) -> _SlotState: ...
    @property
    def until(self) -> datetime | None: ...

@final
class GroupAvailability:
    def __new__(
        cls,
        *,
        group: str,
        free: int = 0,
        held: int = 0,
        offered: int = 0,
        booked: int = 0,
        returned: int = 0,
    ) -> Self: ...
    @property
    def group(self) -> str: ...
    @property
    def free(self) -> int: ...
    @property
    def held(self) -> int: ...
    @property
    def offered(self) -> int: ...
    @property
    def booked(self) -> int: ...
    @property
    def returned(self) -> int: ...

@final
class AuditEntry:
    """One operator or scheduled action: when, what, who, how many, why."""

    def __new__(
        cls, *, at: _TimeLike, action: str, actor: str, count: int, reason: str | None = None
    ) -> Self: ...
    @property
    def at(self) -> datetime: ...
    @property
    def action(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def reason(self) -> str | None: ...

@final
class RoomInfo:
    """A room's public state."""

    def __new__(
        cls,
        *,
        state: str,
        opens_in_seconds: float,
        waiting: int,
        active: int,
        admit_per_minute: float,
        measured_per_minute: float,
        queue_all: bool,
        counters: dict[str, int],
        availability: list[GroupAvailability] = ...,
        next_release_window: _TimeLike | None = None,
    ) -> Self: ...
    @property
    def state(self) -> _RoomState: ...
    @property
    def opens_in_seconds(self) -> float: ...
    @property
    def waiting(self) -> int: ...
    @property
    def active(self) -> int: ...
    @property
    def admit_per_minute(self) -> float: ...
    @property
    def measured_per_minute(self) -> float: ...
    @property
    def queue_all(self) -> bool: ...
    @property
    def counters(self) -> dict[str, int]: ...
    @property
    def availability(self) -> list[GroupAvailability]: ...
    @property
    def next_release_window(self) -> datetime | None: ...

@final
class TickReport:
    def __new__(
        cls,
        *,
        admitted: int = 0,
        abandoned: int = 0,
        expired: int = 0,
        released: int = 0,
        holds_expired: int = 0,
        offers_made: int = 0,
    ) -> Self: ...
    @property
    def admitted(self) -> int: ...
    @property
    def abandoned(self) -> int: ...
    @property
    def expired(self) -> int: ...
    @property
    def released(self) -> int: ...
    @property
    def holds_expired(self) -> int: ...
    @property
    def offers_made(self) -> int: ...

@final
class Draw:
    """The recorded pre-queue draw; ``draw_order(len(joined), seed)`` reproduces it."""

    def __new__(
        cls,
        *,
        seed: int,
        at: _TimeLike,
        mode: str,
        joined: list[int],
        order: list[int],
    ) -> Self: ...
    @property
    def seed(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def mode(self) -> str: ...
    @property
    def joined(self) -> list[int]: ...
    @property
    def order(self) -> list[int]: ...

_SlotInput: TypeAlias = Mapping[str, Any] | tuple[str, str, _TimeLike]

@final
class JournalCut:
    """Where a restore stopped early: a torn or damaged record in a journal file."""

    @property
    def segment(self) -> int:
        """Index (in the list given to ``Room.restore``) of the journal holding the bad record."""
    @property
    def offset(self) -> int:
        """Length of the journal's good part: the file may be truncated to it."""
    @property
    def reason(self) -> str: ...
    @property
    def dropped_bytes(self) -> int: ...
    @property
    def segments_skipped(self) -> int:
        """Journals after the bad one, which were not applied either."""
    @property
    def torn_tail(self) -> bool:
        """True for what a crash leaves: an unfinished last record (its frame runs past the end
        of the file, or the file is zeros from it on) and nothing whole after it, safe to cut.
        False for damage (a whole record or a header that fails its checksum, whole records
        after it), which a cut would drop."""
    @property
    def unapplied(self) -> UnappliedRecords:
        """The records from the damaged one on, which were not applied."""

@final
class UnappliedRecords:
    """Journal records that were not applied, read as far as they go."""

    @property
    def records(self) -> int:
        """Every record left out, the unreadable ones included."""
    @property
    def unreadable(self) -> int:
        """Records written whole once that fail their checksum now."""
    @property
    def bookings(self) -> list[tuple[str, str | None]]:
        """(booking code, slot id or None when unknown) of each booking they made."""
    @property
    def possible_bookings(self) -> list[tuple[str, str | None]]:
        """(booking code, slot id or None) that an unreadable record seems to make: its
        payload decodes, but its checksum fails, so either may be garbled."""
    @property
    def cancelled(self) -> list[str]:
        """Slots whose booking they cancelled."""
    @property
    def joined(self) -> list[int]:
        """Tickets that joined."""
    @property
    def admitted(self) -> list[int]:
        """Tickets that were admitted."""

@final
class RestoreReport:
    """What ``Room.restore`` did."""

    @property
    def snapshot_generation(self) -> int | None: ...
    @property
    def segments(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def cut(self) -> JournalCut | None: ...

@final
class Room:
    """One waiting room: queue, tokens and slot inventory. Thread-safe."""

    def __new__(
        cls,
        config: RoomConfig,
        signer: Signer,
        clock: VirtualClock | None = None,
        journal: bool = False,
    ) -> Self:
        """With ``journal``, every change is recorded for ``drain_journal``."""
    @staticmethod
    def restore(
        signer: Signer,
        snapshot: bytes | None,
        journals: list[bytes],
        clock: VirtualClock | None = None,
    ) -> tuple[Room | None, RestoreReport]:
        """Rebuilds a journaled room from its latest snapshot and the journal files after it,
        oldest first; None when there is nothing to restore. Raises ``JournalIncompatible``
        for files of another format version and ``JournalCorrupt`` for damage beyond a torn
        or corrupt tail (which is cut and reported instead)."""
    @property
    def id(self) -> str: ...
    @property
    def config(self) -> RoomConfig:
        """The settings in force (a new object on every read)."""
    @property
    def journaled(self) -> bool: ...
    @property
    def pending_journal_bytes(self) -> int: ...
    def drain_journal(self) -> bytes:
        """The journal records of every change since the last drain, to append to the file."""
    def snapshot(self, generation: int) -> tuple[bytes, bytes]:
        """The whole state as a snapshot file for journal ``generation``, and the records not
        drained yet, which the snapshot includes: they end the previous journal file."""
    @property
    def handoff_url(self) -> str | None: ...
    def join(
        self, identity: str | None = None, ticket: str | None = None, label: str | None = None
    ) -> Ticket:
        """Joins, or resumes the ticket of this identity or token. The caller vouches for
        ``identity``: it finds the ticket it had. A new ticket gets ``label``, which finds none."""
    def label(self, ticket: int) -> str | None:
        """The label ticket id ``ticket`` was given when it joined, if any."""
    def status(self, token: str, kind: str | None = None) -> Status:
        """The ticket's place, estimate and pass; also its heartbeat. ``kind`` ("ticket" or
        "pass") refuses the other kind with ``TokenWrongKind``."""
    def leave(self, token: str) -> _TicketState:
        """Gives up the place or session; returns the state it was in."""
    def complete(self, pass_token: str) -> None:
        """Ends the admitted session, freeing its capacity."""
    def tick(self) -> int:
        """Admits who may come in now; returns how many."""
    def tick_report(self) -> TickReport: ...
    def pause(self, actor: str = "operator") -> None:
        """Admits nobody until ``resume``. Every change of the operator's names its ``actor``
        in the audit log; ``InvalidArgument`` for an actor outside its rule (``check_audit``)."""
    def resume(self, actor: str = "operator") -> None: ...
    def queue_all(self, on: bool = True, actor: str = "operator") -> None:
        """With ``on``, every join waits in the queue even without a crowd."""
    def update(self, config: RoomConfig, actor: str = "operator") -> None: ...
    def info(self) -> RoomInfo: ...
    def draw(self) -> Draw | None: ...
    def add_slots(self, slots: Iterable[_SlotInput], actor: str = "operator") -> int:
        """Loads slots, all or nothing; returns how many."""
    def availability(self) -> list[GroupAvailability]: ...
    def free_slots(
        self, group: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[SlotInfo]: ...
    def slot(self, slot_id: str) -> SlotInfo: ...
    def hold(self, slot_id: str, pass_token: str) -> Hold:
        """Atomically claims a slot; raises ``SlotTaken`` (with alternatives) when lost."""
    def confirm(self, hold: Hold | str, token: str | None = None) -> Booking:
        """Confirms a hold (or a slot id with the visitor's token); returns the booking."""
    def release_hold(self, slot_id: str, token: str) -> None: ...
    def decline_offer(self, token: str) -> None: ...
    def cancel(self, code: str) -> tuple[Booking, bool]:
        """Cancels by booking code; the slot returns at the next window or to the waiting list.
        Returns the cancelled booking and whether this call cancelled it (false: it was
        cancelled before, and nothing changed)."""
    def booking(self, code: str) -> Booking: ...
    def release(
        self, override: bool = False, reason: str | None = None, actor: str = "operator"
    ) -> int:
        """Releases returned slots; refused before the window without an override and reason."""
    def record_repair(self, dropped: int, reason: str, actor: str = "operator") -> None:
        """Notes in the audit log (action ``journal_repair``) that the saved state was
        repaired, leaving out ``dropped`` records, for ``reason``."""
    def forget_personal_data(self, actor: str = "operator") -> dict[str, int]:
        """Deletes the room's identities, labels and booking codes now (``RoomNotClosed``
        while the room has not closed); audited with the counts, which it returns by kind."""
    def forget_personal_data_if_due(self) -> dict[str, int] | None:
        """Deletes the room's personal data once its retention has run out and there is any
        (audited with the actor ``retention``); the counts, or None."""
    def personal_data_due_at(self) -> datetime | None:
        """When the room's personal data is due for deletion; None without ``closes_at``."""
    def audit_log(self) -> list[AuditEntry]: ...
    def verify_pass(self, token: str) -> PassInfo:
        """Checks a pass of this room, and that its session is still on (``SessionEnded``
        once the visitor left or completed)."""
    def check_pass(self, token: str, now: int | None = None) -> int:
        """The proxy check of a pass: ``verify_pass`` without the claims; the ticket id."""
    def now(self) -> datetime: ...

def verify_pass(token: str, signer: Signer, room: str) -> PassInfo:
    """Checks a pass in process (booking sites); raises a ``TokenError`` subclass. It reads
    the token alone, so it cannot know that a session ended early (left or completed): use
    ``Room.verify_pass`` or ``POST /v1/handoff/verify`` for that."""

def new_challenge(
    signer: Signer, room: str, max_number: int, now: int | None = None
) -> dict[str, Any]:
    """A new proof-of-work challenge for ``room`` as ALTCHA's JSON object (``algorithm``,
    ``challenge``, ``maxnumber``, ``salt``, ``signature``), valid for 5 minutes from ``now``
    (Unix seconds; default the wall clock)."""

def verify_challenge(signer: Signer, solution: object, room: str, now: int | None = None) -> int:
    """Checks a decoded ALTCHA solution for ``room``; returns the challenge's expiry (Unix
    seconds), until which it must be remembered as used. Raises a ``ChallengeError``
    subclass."""

def journal_header(room: str, generation: int) -> bytes:
    """The header that starts a new journal file of ``room``."""

def unapplied_records(journals: list[bytes]) -> UnappliedRecords:
    """The records of whole journal files (oldest first), read as far as they go: what
    setting them aside would drop."""

def status_poll(
    room: Room, token: str, cap_ms: int, random: float
) -> tuple[bytes | None, int, Status | None]:
    """The HTTP status poll of a ticket (a pass raises ``TokenWrongKind``) in one call:
    ``(json_body, poll_after_ms, None)`` for a visitor without pass or offer, else
    ``(None, 0, status)`` for the server's general path. ``random`` in [0, 1) draws the jitter
    of the interval."""

def cached_status_poll(
    room: str,
    ticket: int,
    state: str,
    ahead: int | None,
    ahead_at_start: int | None,
    distance: int,
    line: Line,
    opens_in_seconds: float,
    prequeue_waiting: int,
    cap_ms: int,
    random: float,
) -> tuple[bytes, int]:
    """``status_poll``'s answer for a ticket without pass or offer from counters cached
    elsewhere (the Redis backend's): ``distance`` places from the cursor, the estimate from
    ``line``, ``prequeue_waiting`` entries before the draw.
    Returns ``(json_body, poll_after_ms)``; an admitted ticket raises ``ValueError``."""

def poll_after_ms(
    state: str,
    ahead: int | None,
    eta_seconds: float,
    opens_in_seconds: float,
    paused: bool,
    cap_ms: int,
    random: float,
) -> int:
    """The interval to a ticket's next poll in milliseconds; ``random`` in [0, 1) draws the
    jitter."""

def heartbeat_cap_ms(heartbeat_timeout_seconds: int) -> int:
    """The longest poll interval of a room (before jitter), from its heartbeat timeout."""

def next_release_window(config: RoomConfig, at_or_after: datetime | str) -> datetime | None:
    """The first release window of ``config`` at or after ``at_or_after``, or None."""

def last_release_window(config: RoomConfig, at_or_before: datetime | str) -> datetime | None:
    """The latest release window of ``config`` at or before ``at_or_before``, or None: the one
    a tick releases for, once, however many were missed since the last release."""

POLL_FRONT_MS: Final[int]
#: What a wait estimate can rest on (``Eta.reason``).
ETA_REASONS: Final[list[_EtaReason]]
POLL_BACK_MS: Final[int]
POLL_MIN_MS: Final[int]
POLL_JITTER: Final[float]
RECENT_STRETCH_MICROS: Final[int]
RETENTION_ACTOR: Final[str]

def draw_order(n: int, seed: int) -> list[int]:
    """The pre-queue draw for ``n`` entries: element k is the join index placed k-th."""

@final
class InputRule:
    """One setting's or id's documented range or character set."""

    @property
    def kind(self) -> str:
        """ "integer", "number", "time", "text" or "list"."""
    @property
    def minimum(self) -> int | float | str | None:
        """The smallest value (an RFC 3339 time for times), or None."""
    @property
    def maximum(self) -> int | float | str | None:
        """The largest value (an RFC 3339 time; the most entries of a list), or None."""
    @property
    def exclusive_minimum(self) -> bool:
        """True when ``minimum`` itself is refused (a rate must be above 0)."""
    @property
    def max_bytes(self) -> int | None:
        """The longest text, in bytes of UTF-8."""
    @property
    def pattern(self) -> str | None:
        """The character set of a text as a regular expression (ECMA-262 and Python ``re``)."""
    @property
    def text(self) -> str:
        """The rule in words."""

def input_rules() -> dict[str, InputRule]:
    """Every rule by the setting or id it governs: the room settings, ``starts_at`` of a
    slot, and ``room_id``, ``slot_id``, ``group``, ``identity``, ``key_id``."""

def not_open_yet(opens_at_micros: int, now_micros: int) -> NotOpenYet:
    """The ``NotOpenYet`` the core raises for a join at ``now_micros`` when joining opens at
    ``opens_at_micros`` (its message, ``opens_in_seconds`` and ``opens_at``)."""

def error_codes() -> dict[str, int]:
    """Every error code the core can raise, with its one HTTP status. Each code's exception
    is the class named by the code in CamelCase (``unknown_ticket``: ``UnknownTicket``)."""

def room_state(
    *, closed: bool, opened: bool, paused: bool, availability: list[GroupAvailability]
) -> _RoomState:
    """The state a room's info reports, by the core's one rule: closed, then before the opening
    ("prequeue"), then sold out (slots loaded and none free, held or offered), then paused."""

def new_identity_key() -> str:
    """A new random identity key of a room, as 64 hex digits."""

def identity_pseudonym(key: str, identity: str) -> str:
    """The pseudonym of ``identity`` under ``key`` (an HMAC-SHA256, 22 characters of URL-safe
    base64): what a room's identity index keeps instead of the portal's value."""

def check_slots(slots: Iterable[_SlotInput]) -> list[tuple[str, str, int]]:
    """Checks slots as ``Room.add_slots`` takes them, without a room: ``(id, group,
    starts_at)`` with ``starts_at`` in microseconds since the Unix epoch. Raises
    ``InvalidArgument`` or ``DuplicateSlot``."""

def check_identity(identity: str) -> None:
    """Checks an identity as ``Room.join`` does; ``InvalidArgument`` (without echoing it)."""

def check_audit(actor: str, reason: str | None = None) -> None:
    """Checks the actor and the reason of an operator's change as the room's audited changes
    do (one printable line each, ``input_rules()["actor"]`` and ``["reason"]``);
    ``InvalidArgument`` naming which is wrong."""

class PyqueueError(Exception):
    """Base of every pyqueue error; ``code`` is the stable error code."""

    code: str

class InvalidConfig(PyqueueError): ...
class InvalidArgument(PyqueueError): ...
class TokenError(PyqueueError): ...
class TokenMalformed(TokenError): ...
class TokenBadSignature(TokenError): ...

class TokenUnknownKey(TokenError):
    key_id: str

class TokenExpired(TokenError): ...
class TokenWrongRoom(TokenError): ...
class TokenWrongKind(TokenError): ...
class SessionEnded(TokenError): ...
class EntryError(PyqueueError): ...
class EntryMalformed(EntryError): ...
class EntryWrongAlgorithm(EntryError): ...

class EntryUnknownKey(EntryError):
    key_id: str

class EntryBadSignature(EntryError): ...
class EntryExpired(EntryError): ...
class EntryLifetimeTooLong(EntryError): ...
class EntryWrongAudience(EntryError): ...
class EntryReplayed(EntryError): ...
class EntryRequired(EntryError): ...
class EntryStoreFull(EntryError): ...
class ChallengeError(PyqueueError): ...
class ChallengeMalformed(ChallengeError): ...
class ChallengeBadSignature(ChallengeError): ...
class ChallengeUnsolved(ChallengeError): ...
class ChallengeWrongRoom(ChallengeError): ...
class ChallengeExpired(ChallengeError): ...

class NotOpenYet(PyqueueError):
    opens_in_seconds: float
    opens_at: datetime

class RoomClosed(PyqueueError): ...
class RoomNotClosed(PyqueueError): ...
class IdentityRequired(PyqueueError): ...
class UnknownTicket(PyqueueError): ...
class NotAdmitted(PyqueueError): ...

class UnknownSlot(PyqueueError):
    slot: str

class DuplicateSlot(PyqueueError):
    slot: str

class SlotTaken(PyqueueError):
    slot: str
    alternatives: list[str]

class LimitReached(PyqueueError):
    limit: int

class HoldExpired(PyqueueError): ...
class NotHolder(PyqueueError): ...
class NoHold(PyqueueError): ...
class UnknownBooking(PyqueueError): ...
class NoOffer(PyqueueError): ...

class ReleaseRefused(PyqueueError):
    next_window: datetime | None

class EntropyUnavailable(PyqueueError):
    """The operating system's random source failed: a fault of the server, not the request."""

class JournalIncompatible(PyqueueError):
    """Saved state of another format version; the message says what to do."""

    found: int
    supported: int

class JournalCorrupt(PyqueueError):
    """Saved state damaged beyond a torn tail; it cannot be replayed."""
