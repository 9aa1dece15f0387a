"""The embedded backend: every room is a ``pyqueue.Room`` in this process.

The core is thread-safe and fast, so most calls run inline on the event loop; only bulk slot
loads go to a thread, because the core releases the GIL for them and the loop keeps serving.

With a ``data_dir`` every room is journaled (:mod:`pyqueue.backends.durable`): each change is
written to the room's journal right after the core made it, and the answer waits until it is
on disk as the fsync policy says. A restart restores the rooms from their files; a room of
the config file whose settings changed in the file since they were last applied gets them as
an update, and slots added to the file are loaded. Without a ``data_dir``, state lives in
memory only and a restart starts the rooms afresh from the configuration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pyqueue._core import (
    AuditEntry,
    Booking,
    Draw,
    EntryVerifier,
    GroupAvailability,
    Hold,
    InvalidConfig,
    PassInfo,
    ReleaseRefused,
    Room,
    RoomConfig,
    RoomInfo,
    Signer,
    SlotInfo,
    Status,
    Ticket,
    TickReport,
    UnknownSlot,
    VirtualClock,
    status_poll,
)
from pyqueue.backends import (
    RETENTION_CHECK_SECONDS,
    BackendUnavailable,
    ClockStatus,
    PassChecker,
    UnknownRoom,
    entry_verifier,
)
from pyqueue.backends.durable import Durability, JournalBroken, JournalStore
from pyqueue.backends.saved_ranges import warn_if_outside_ranges
from pyqueue.backends.used_once import StoreFull, UsedOnce
from pyqueue.background import BackgroundTasks, Periodic
from pyqueue.config import (
    RoomSettings,
    Settings,
    merged_room_config,
    room_config_to_mapping,
)

log = logging.getLogger("pyqueue.backend")

# Slot loads above this size run in a worker thread, so a big CSV does not stall the polls.
_THREAD_BULK: Final = 5000


#: The tick of a room that cannot change.
_IDLE_TICK: Final = TickReport()


class MemoryBackend:
    """Rooms in this process. Implements :class:`pyqueue.backends.Backend`."""

    kind: Final = "memory"

    def __init__(
        self,
        signer: Signer,
        clock: VirtualClock | None = None,
        store: JournalStore | None = None,
        entry: EntryVerifier | None = None,
    ) -> None:
        self._signer = signer
        self._entry = entry
        self._clock = clock
        self._rooms: dict[str, Room] = {}
        # The settings in force, kept here: a Room reports the settings it was built with.
        self._configs: dict[str, RoomConfig] = {}
        self._store = store
        self._background = BackgroundTasks()
        self._used_challenges = UsedOnce()
        # Rooms whose earlier files were deleted in this process after their retention ran
        # out, and rooms that forgot while their earlier files could not be deleted yet.
        self._files_clean: set[str] = set()
        self._files_dirty: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings, clock: VirtualClock | None = None) -> MemoryBackend:
        """The rooms of a configuration, with their slots loaded; with a ``data_dir``, the
        rooms saved there as well (raises ``SavedStateError`` if they cannot be restored)."""
        server = settings.server
        signer = server.signer()
        store = None
        restored: dict[str, Room] = {}
        if server.data_dir is not None:
            store = JournalStore(server.data_dir, Durability.from_settings(server), signer, clock)
            restored = store.open()
        backend = cls(signer, clock, store, server.entry_verifier())
        for room in restored.values():
            backend._rooms[room.id] = room
            backend._configs[room.id] = room.config
            warn_if_outside_ranges(room.config)
        for room_settings in settings.rooms:
            if room_settings.config.id in restored:
                backend._apply_file_settings(room_settings)
                continue
            room = backend._add(room_settings.config)
            if room_settings.slots:
                room.add_slots(list(room_settings.slots), actor="config")
            backend._remember_file_config(room_settings.config)
        if store is not None:
            for room_id in backend._rooms:
                # Synchronously, at start: what the config added is on disk before serving.
                journal = store.journal(room_id)
                journal.write()
                journal.sync_now()
        return backend

    def _add(self, config: RoomConfig) -> Room:
        room = Room(config, self._signer, self._clock, journal=self._store is not None)
        if self._store is not None:
            self._store.add(room)
        self._rooms[config.id] = room
        self._configs[config.id] = config
        return room

    def _apply_file_settings(self, settings: RoomSettings) -> None:
        """A restored room of the config file: the file's settings, if they changed since they
        were last applied (an operator's change over the admin API stays until the file
        changes), and the file's slots that the room does not have yet."""
        room = self._rooms[settings.config.id]
        wanted = _file_config(settings.config)
        assert self._store is not None
        files = self._store.files(room.id)
        if files.read_file_config() != wanted:
            wanted.pop("id")
            # The seed stays: a file without one gets a random one at every start.
            try:
                room.update(merged_room_config(room.config, wanted), actor="config-file")
            except InvalidConfig as exc:
                log.warning(
                    "the config file's settings of a room cannot be applied; it keeps its own",
                    extra={"room": room.id, "error": str(exc)},
                )
            self._configs[room.id] = room.config
            self._remember_file_config(settings.config)
        missing = [slot for slot in settings.slots if not _has_slot(room, str(slot["id"]))]
        if missing:
            room.add_slots(missing, actor="config-file")

    def _remember_file_config(self, config: RoomConfig) -> None:
        if self._store is not None:
            self._store.files(config.id).write_file_config(_file_config(config))

    async def _persist(self, room: str, *, must_sync: bool = False) -> None:
        """Puts what the room recorded into its journal, on disk as the policy says."""
        if self._store is None:
            return
        try:
            await self._store.persist(room, must_sync=must_sync)
        except JournalBroken as exc:
            raise BackendUnavailable(str(exc)) from exc

    def _writable(self, room: str) -> Room:
        """The room, for a change: refused while its journal is broken (memory would run
        ahead of the disk, and a restart would take back what was answered)."""
        target = self._room(room)
        if self._store is not None:
            broken = self._store.broken()
            if broken is not None:
                raise BackendUnavailable(broken)
        return target

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
        if self._store is not None:
            store = self._store
            self._background.start("journal", store.background_step, store.background_interval)
        self._background.start("retention", self._forget_due, RETENTION_CHECK_SECONDS)

    async def close(self) -> None:
        await self._background.stop()
        if self._store is not None:
            await self._store.close()

    async def ready(self) -> bool:
        return self._store is None or self._store.broken() is None

    def now(self) -> float:
        return time.time() if self._clock is None else self._clock.timestamp()

    def clock_status(self) -> ClockStatus:
        # One process: its own clock is the only one there is.
        return ClockStatus("system" if self._clock is None else "virtual")

    def tasks(self) -> Iterable[Periodic]:
        return self._background

    # ----- rooms ------------------------------------------------------------------------------

    async def room_ids(self) -> list[str]:
        return list(self._rooms)

    async def room_config(self, room: str) -> RoomConfig:
        self._room(room)
        return self._configs[room]

    async def create_room(self, config: RoomConfig, actor: str) -> None:
        if config.id in self._rooms:
            raise InvalidConfig(f"room {config.id!r} exists already")
        if self._store is not None and self._store.broken() is not None:
            raise BackendUnavailable(self._store.broken() or "")
        self._add(config)
        await self._persist(config.id, must_sync=True)

    async def update_room(self, config: RoomConfig, actor: str) -> None:
        self._writable(config.id).update(config, actor=actor)
        self._configs[config.id] = config
        await self._persist(config.id, must_sync=True)

    async def room_info(self, room: str) -> RoomInfo:
        return self._room(room).info()

    async def draw(self, room: str) -> Draw | None:
        return self._room(room).draw()

    async def tick(self, room: str) -> TickReport:
        if self._store is not None and self._store.broken() is not None:
            # Nothing moves while no change can be saved; the failure was raised and logged
            # once, and readiness says so.
            self._room(room)
            return _IDLE_TICK
        report = self._writable(room).tick_report()
        await self._persist(room)
        return report

    async def pause(self, room: str, actor: str) -> None:
        self._writable(room).pause(actor=actor)
        await self._persist(room, must_sync=True)

    async def resume(self, room: str, actor: str) -> None:
        self._writable(room).resume(actor=actor)
        await self._persist(room, must_sync=True)

    async def queue_all(self, room: str, on: bool, actor: str) -> None:
        self._writable(room).queue_all(on, actor=actor)
        await self._persist(room, must_sync=True)

    async def audit_log(self, room: str) -> list[AuditEntry]:
        return self._room(room).audit_log()

    # ----- visitors ---------------------------------------------------------------------------

    async def join(
        self,
        room: str,
        identity: str | None,
        resume: str | None,
        entry: str | None = None,
        label: str | None = None,
    ) -> Ticket:
        target = self._writable(room)
        if resume is not None:
            # Before the entry token: a refused ticket (a stale cookie) must leave its jti
            # unused for the join the caller tries next without the ticket.
            self._signer.verify(resume, room, "ticket", self._now_seconds())
        if entry is not None:
            # The jti is used up in this process's store; the vouched sub is the identity.
            identity = entry_verifier(self._entry).accept(entry, room, self._now_seconds()).sub
        ticket = target.join(identity=identity, ticket=resume, label=label)
        await self._persist(room)
        return ticket

    async def use_challenge(self, room: str, challenge: str, until: float) -> bool:
        self._room(room)  # an unknown room is refused as everywhere
        # Kept in this process only: a restart forgets what was used, for at most the 5 minutes
        # a challenge lives (see the README).
        try:
            return self._used_challenges.use(challenge.encode(), until, self.now())
        except StoreFull as exc:
            raise BackendUnavailable(str(exc)) from exc

    async def status(self, room: str, ticket: str) -> Status:
        # The HTTP API keeps the ticket for the queue and the pass for booking.
        return self._room(room).status(ticket, "ticket")

    def status_poll(
        self, room: str, ticket: str, cap_ms: int, random: float
    ) -> tuple[bytes | None, int, Status | None]:
        """The status poll's fast path (see ``pyqueue._core.status_poll``): the finished JSON
        answer of a waiting visitor, or the status for the general path. Synchronous on
        purpose: the hot path saves a coroutine."""
        return status_poll(self._room(room), ticket, cap_ms, random)

    async def leave(self, room: str, token: str) -> str:
        previous = self._writable(room).leave(token)
        await self._persist(room)
        return previous

    async def complete(self, room: str, pass_token: str) -> None:
        self._writable(room).complete(pass_token)
        await self._persist(room)

    async def verify_pass(self, room: str, pass_token: str) -> PassInfo:
        return self._room(room).verify_pass(pass_token)

    def pass_checker(self) -> PassChecker:
        rooms = self._rooms
        verify = self._signer.verify

        def check(room: str, token: str, now: int | None) -> int:
            target = rooms.get(room)
            if target is None:
                # No such room here: the token alone decides, and cannot be a pass of it.
                return verify(token, room, "pass", now).ticket
            return target.check_pass(token, now)

        return check

    # ----- slots and bookings -----------------------------------------------------------------

    async def add_slots(self, room: str, slots: Iterable[Mapping[str, Any]], actor: str) -> int:
        target = self._writable(room)
        items = list(slots)
        if len(items) > _THREAD_BULK:
            added = await asyncio.to_thread(target.add_slots, items, actor)
        else:
            added = target.add_slots(items, actor=actor)
        await self._persist(room, must_sync=True)
        return added

    async def availability(self, room: str) -> list[GroupAvailability]:
        return self._room(room).availability()

    async def free_slots(
        self, room: str, group: str | None, offset: int, limit: int
    ) -> list[SlotInfo]:
        return self._room(room).free_slots(group=group, offset=offset, limit=limit)

    async def hold(self, room: str, slot: str, pass_token: str) -> Hold:
        hold = self._writable(room).hold(slot, pass_token)
        await self._persist(room)
        return hold

    async def confirm(self, room: str, slot: str, token: str) -> Booking:
        booking = self._writable(room).confirm(slot, token)
        # On disk before the visitor sees the code, whatever the policy.
        await self._persist(room, must_sync=True)
        return booking

    async def release_hold(self, room: str, slot: str, token: str) -> None:
        self._writable(room).release_hold(slot, token)
        await self._persist(room)

    async def decline_offer(self, room: str, token: str) -> None:
        self._writable(room).decline_offer(token)
        await self._persist(room)

    async def booking(self, room: str, code: str) -> Booking:
        return self._room(room).booking(code)

    async def cancel(self, room: str, code: str) -> tuple[Booking, bool]:
        booking, cancelled_now = self._writable(room).cancel(code)
        if cancelled_now:
            await self._persist(room, must_sync=True)
        return booking, cancelled_now

    async def release(self, room: str, override: bool, reason: str | None, actor: str) -> int:
        try:
            released = self._writable(room).release(override=override, reason=reason, actor=actor)
        except ReleaseRefused:
            # The refusal is in the audit log as well: saved like every audited change.
            await self._persist(room, must_sync=True)
            raise
        await self._persist(room, must_sync=True)
        return released

    # ----- personal data ----------------------------------------------------------------------

    async def forget_personal_data(self, room: str, actor: str) -> dict[str, int]:
        forgotten = self._writable(room).forget_personal_data(actor=actor)
        log.info("personal data deleted", extra={"room": room, "actor": actor, **forgotten})
        self._files_dirty.add(room)
        await self._persist(room, must_sync=True)
        await self._purge(room)
        return forgotten

    async def _forget_due(self) -> None:
        """The "retention" task: every room whose retention ran out forgets (the core decides
        when, and does nothing when nothing is left), and its earlier files go, once per
        process start too: a stop between the two must not leave them behind."""
        for room_id, room in list(self._rooms.items()):
            if self._store is not None and self._store.broken() is not None:
                return  # nothing can be saved; ``broken`` tells /readyz
            forgotten = room.forget_personal_data_if_due()
            if forgotten is not None:
                log.info("personal data deleted", extra={"room": room_id, **forgotten})
                self._files_dirty.add(room_id)
                await self._persist(room_id, must_sync=True)
            if self._store is None:
                continue
            if room_id in self._files_dirty:
                await self._purge(room_id)
            elif room_id not in self._files_clean:
                due = room.personal_data_due_at()
                if due is not None and due <= room.now():
                    await self._purge(room_id)

    async def _purge(self, room: str) -> None:
        """Deletes the room's files from before its personal data was forgotten."""
        if self._store is None:
            return
        try:
            await self._store.purge_history(room)
        except (JournalBroken, OSError) as exc:
            # Memory and the newest records hold none of it; the earlier files still do, until
            # the retention task's next run succeeds.
            log.error(
                "deleting a room's earlier files failed: they still hold personal data",
                extra={"room": room, "error": str(exc)},
            )
            raise BackendUnavailable(str(exc)) from exc
        self._files_dirty.discard(room)
        self._files_clean.add(room)


def _file_config(config: RoomConfig) -> dict[str, Any]:
    """The settings a config file gives a room, as compared between starts (not the seed,
    which is random in every start when the file gives none)."""
    settings = room_config_to_mapping(config)
    settings.pop("seed", None)
    return settings


def _has_slot(room: Room, slot_id: str) -> bool:
    try:
        room.slot(slot_id)
    except UnknownSlot:
        return False
    return True
