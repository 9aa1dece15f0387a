"""The memory backend's state on disk: every room journaled in ``data_dir``, restored at start.

One process owns a data directory (a lock file says so). Each room has its directory of
snapshot and journal generations (:mod:`pyqueue.backends.journal_file`) and, while the server
runs, an open :class:`~pyqueue.backends.room_journal.RoomJournal`.

When is a change on disk? With ``fsync = "always"``, before the answer to the request that made
it. With ``"interval"``, within ``fsync_interval_ms``; bookings, cancellations and operator
changes are still synced before their answer, so a visitor never holds a booking code that a
crash could take back. Admissions made by the ticker are synced right after the tick.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pyqueue._core import Room, Signer, VirtualClock
from pyqueue.backends.journal_file import Chain, RoomFiles
from pyqueue.backends.room_journal import JournalBroken, RoomJournal
from pyqueue.backends.saved_state import (
    Inspection,
    SavedStateDamaged,
    SavedStateError,
    inspect_room,
    refuse_damaged,
)
from pyqueue.config import ServerSettings

log = logging.getLogger("pyqueue.journal")

LOCK_FILE: Final = "LOCK"
ROOMS_DIR: Final = "rooms"


@dataclass(frozen=True)
class Durability:
    fsync: str = "always"
    fsync_interval: float = 0.1
    snapshot_interval: float = 300.0
    snapshot_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_settings(cls, server: ServerSettings) -> Durability:
        return cls(
            fsync=server.fsync,
            fsync_interval=server.fsync_interval_ms / 1000,
            snapshot_interval=server.snapshot_interval_seconds,
            snapshot_bytes=server.snapshot_journal_bytes,
        )


class JournalStore:
    """The rooms' journals in one data directory."""

    def __init__(
        self,
        data_dir: Path,
        durability: Durability,
        signer: Signer,
        clock: VirtualClock | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.durability = durability
        self._signer = signer
        self._clock = clock
        self._journals: dict[str, RoomJournal] = {}
        self._lock_fd: int | None = None

    # ----- start ------------------------------------------------------------------------------

    def open(self) -> dict[str, Room]:
        """Locks the data directory and restores every room saved in it. Every room is read
        first, changing no file; only when all of them can start does any room's journal start
        (a new generation, a snapshot, pruning, a torn tail cut). So a start refused for one
        room leaves every room's files as they were."""
        self.lock()
        try:
            directories = sorted(p for p in (self.data_dir / ROOMS_DIR).iterdir() if p.is_dir())
            found = [self._inspect(RoomFiles(directory)) for directory in directories]
            refuse_damaged(found)
            rooms = {}
            for inspection in found:
                room = self._start_room(inspection)
                if room is not None:
                    rooms[room.id] = room
        except BaseException:
            self.release()
            raise
        return rooms

    def lock(self) -> None:
        """Takes the data directory for this process (a second server, or a repair while a
        server runs, is refused)."""
        rooms_dir = self.data_dir / ROOMS_DIR
        try:
            rooms_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileExistsError as exc:
            raise SavedStateError(
                f"cannot use data_dir {self.data_dir}: {exc.filename} is a file, not a directory"
            ) from exc
        except OSError as exc:
            raise SavedStateError(f"cannot use data_dir {self.data_dir}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SavedStateError(
                f"data_dir {self.data_dir} is in use by another pyqueue process; "
                "each server needs its own data_dir"
            ) from None
        self._lock_fd = fd

    def journal(self, room_id: str) -> RoomJournal:
        return self._journals[room_id]

    def files(self, room_id: str) -> RoomFiles:
        return RoomFiles(self.data_dir / ROOMS_DIR / room_id)

    def restore_room(self, files: RoomFiles) -> Room | None:
        """Restores one room and starts its journal; None when the directory holds no room.
        Raises ``SavedStateDamaged`` for damage that is not a torn tail: starting would drop
        what follows it (see :mod:`pyqueue.backends.saved_state`)."""
        found = self._inspect(files)
        refuse_damaged([found])
        return self._start_room(found)

    def _inspect(self, files: RoomFiles) -> Inspection:
        started = time.perf_counter()
        found = inspect_room(files, self._signer, self._clock)
        found.seconds = time.perf_counter() - started
        return found

    def _start_room(self, found: Inspection) -> Room | None:
        """Acts on what an inspection without damage found: sets aside the snapshots an older
        generation replaces, cuts a torn tail, starts the room's journal."""
        files = found.files
        for path, why in found.replaced_snapshots:
            kept = files.set_aside(path)
            log.warning(
                "damaged snapshot replaced by the generation before it, which holds everything",
                extra={"path": str(path), "reason": why, "kept_in": str(kept)},
            )
        cut, chain, room, report = found.torn_tail, found.chain, found.room, found.report
        if cut is not None and chain is not None:
            self._cut(files, chain, cut.segment, cut.offset, cut.reason)
        if room is None or report is None:
            return None
        log.info(
            "room restored",
            extra={
                "room": room.id,
                "snapshot_generation": report.snapshot_generation,
                "journal_records": report.records,
                "seconds": round(found.seconds, 3),
            },
        )
        self._start_journal(room, files, files.newest_generation() + 1)
        return room

    def _start_journal(self, room: Room, files: RoomFiles, generation: int) -> None:
        try:
            self._journals[room.id] = RoomJournal.start(room, files, generation)
        except OSError as exc:
            raise SavedStateError(
                f"cannot write the journal of room {room.id!r} in {files.directory}: {exc}"
            ) from exc

    def _cut(self, files: RoomFiles, chain: Chain, segment: int, offset: int, reason: str) -> None:
        path = chain.journals[segment]
        kept = files.cut(path, offset)
        skipped = [str(files.set_aside(later)) for later in chain.journals[segment + 1 :]]
        log.warning(
            "journal cut at its last good record",
            extra={
                "path": str(path),
                "offset": offset,
                "reason": reason,
                "dropped_bytes_kept_in": str(kept) if kept else None,
                "journals_set_aside": skipped,
            },
        )

    def add(self, room: Room) -> None:
        """Starts the journal of a new journaled room (its creation is the first record)."""
        files = self.files(room.id)
        if files.directory.exists() and not files.directory.is_dir():
            raise SavedStateError(
                f"{files.directory} is a file, not a directory: room {room.id!r} keeps its "
                "journal in a directory of that name; move the file out of the data_dir"
            )
        if files.newest_generation() >= 0:
            # Left from a room that was set aside or named otherwise: never mixed in.
            raise SavedStateError(f"{files.directory} holds files of another room already")
        self._start_journal(room, files, 0)

    # ----- while serving ----------------------------------------------------------------------

    async def persist(self, room_id: str, *, must_sync: bool = False) -> None:
        """Writes what the room recorded; with ``must_sync`` or the "always" policy, returns
        only once it is on disk. Raises ``JournalBroken`` if the journal cannot be written."""
        journal = self._journals.get(room_id)
        if journal is None:
            return
        upto = journal.write()
        if must_sync or self.durability.fsync == "always":
            await journal.sync(upto)

    async def purge_history(self, room_id: str) -> None:
        """After the room forgot personal data: a new generation, whose snapshot holds none of
        it, becomes the only one on disk, and the older generations and every piece of
        evidence, which hold it still, are deleted. Raises ``JournalBroken`` or ``OSError``
        when that could not be done; the files are then as they were, personal data included,
        and the caller says so."""
        journal = self._journals.get(room_id)
        if journal is None:
            return
        await journal.rotate()
        removed = self.files(room_id).remove_before(journal.generation)
        log.info("earlier generations deleted", extra={"room": room_id, "files": len(removed)})

    def broken(self) -> str | None:
        return next((j.broken for j in self._journals.values() if j.broken), None)

    @property
    def background_interval(self) -> float:
        """How often :meth:`background_step` runs."""
        return min(self.durability.fsync_interval, 0.2)

    async def background_step(self) -> None:
        """Writes what status polls recorded (sessions they ended), syncs under "interval",
        and starts new generations when a journal grew large or old. Run periodically by the
        backend's supervised background task."""
        durability = self.durability
        now = time.monotonic()
        for journal in list(self._journals.values()):
            if journal.broken is not None:
                continue  # refused until a restart; ``broken`` tells /readyz
            try:
                journal.write()
                if durability.fsync == "interval":
                    await journal.sync()
                old = now - journal.generation_started >= durability.snapshot_interval > 0
                if journal.generation_bytes >= durability.snapshot_bytes or (
                    old and journal.generation_bytes > 0
                ):
                    await journal.rotate()
            except JournalBroken:
                continue

    async def close(self) -> None:
        """Graceful shutdown: everything written and synced, and a snapshot of every room, so
        that the next start replays nothing. The background task must be stopped first."""
        for journal in self._journals.values():
            try:
                if journal.generation_bytes > 0 or journal.room.pending_journal_bytes > 0:
                    await journal.rotate()
                await journal.close()
            except (JournalBroken, OSError) as exc:
                log.error("closing a journal failed", extra={"error": str(exc)})
        self.release()

    def release(self) -> None:
        """Closes the journals as they are, without writing or a snapshot (a start that failed,
        a repair that synced what it wrote), and unlocks the data directory."""
        for journal in self._journals.values():
            journal.close_files()
        self._journals.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


__all__ = [
    "Durability",
    "JournalBroken",
    "JournalStore",
    "SavedStateDamaged",
    "SavedStateError",
]
