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

from pyqueue._core import (
    JournalCorrupt,
    JournalIncompatible,
    Room,
    Signer,
    VirtualClock,
)
from pyqueue.backends.journal_file import Chain, RoomFiles
from pyqueue.backends.room_journal import JournalBroken, RoomJournal
from pyqueue.config import ServerSettings

log = logging.getLogger("pyqueue.journal")

LOCK_FILE: Final = "LOCK"
ROOMS_DIR: Final = "rooms"


class SavedStateError(Exception):
    """The saved state cannot be used as it is; the message says what to do."""


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
        """Locks the data directory and restores every room saved in it."""
        rooms_dir = self.data_dir / ROOMS_DIR
        try:
            rooms_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
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
        rooms = {}
        for directory in sorted(p for p in rooms_dir.iterdir() if p.is_dir()):
            room = self._restore(RoomFiles(directory))
            if room is not None:
                rooms[room.id] = room
        return rooms

    def journal(self, room_id: str) -> RoomJournal:
        return self._journals[room_id]

    def files(self, room_id: str) -> RoomFiles:
        return RoomFiles(self.data_dir / ROOMS_DIR / room_id)

    def _restore(self, files: RoomFiles) -> Room | None:
        started = time.perf_counter()
        failures = []
        for chain in files.chains():
            snapshot, journals = chain.read()
            try:
                room, report = Room.restore(self._signer, snapshot, journals, self._clock)
            except JournalIncompatible as exc:
                raise SavedStateError(f"{files.directory}: {exc}") from exc
            except JournalCorrupt as exc:
                failures.append(f"{chain.snapshot or chain.journals[0]}: {exc}")
                log.warning("saved state unusable", extra={"path": failures[-1]})
                self._set_aside_bad_snapshot(files, chain)
                continue
            if report.cut is not None:
                self._cut(files, chain, report.cut.segment, report.cut.offset, report.cut.reason)
            if room is None:
                continue
            if room.id != files.directory.name:
                raise SavedStateError(
                    f"{files.directory} holds the state of room {room.id!r}: a room's directory "
                    "must be named after the room; rename it or move it out of the data_dir"
                )
            log.info(
                "room restored",
                extra={
                    "room": room.id,
                    "snapshot_generation": report.snapshot_generation,
                    "journal_records": report.records,
                    "seconds": round(time.perf_counter() - started, 3),
                },
            )
            self._journals[room.id] = RoomJournal.start(room, files, files.newest_generation() + 1)
            return room
        if failures:
            raise SavedStateError(
                f"{files.directory} cannot be restored ({'; '.join(failures)}). Move the "
                "directory out of the data_dir to start the room anew; its files stay there."
            )
        return None

    def _set_aside_bad_snapshot(self, files: RoomFiles, chain: Chain) -> None:
        """A snapshot that cannot be read alone is renamed, so that it is not tried again and
        the older chain it shadowed stays the fallback."""
        if chain.snapshot is None:
            return
        try:
            Room.restore(self._signer, chain.snapshot.read_bytes(), [], self._clock)
        except JournalCorrupt:
            files.set_aside(chain.snapshot)

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
        if files.newest_generation() >= 0:
            # Left from a room that could not be restored or was set aside: never mixed in.
            raise SavedStateError(f"{files.directory} holds files of another room already")
        self._journals[room.id] = RoomJournal.start(room, files, 0)

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
        self._journals.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


__all__ = ["Durability", "JournalBroken", "JournalStore", "SavedStateError"]
