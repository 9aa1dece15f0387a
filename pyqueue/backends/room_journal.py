"""The open journal of one room: appending what the core recorded, syncing it to disk with
group commit, and starting a new generation with a snapshot.

The core records every change of a journaled room in a buffer; :meth:`RoomJournal.write`
drains it into the journal file (one ``write``, page cache only) right after the change, on
the event loop, so records reach the file in the order the changes were made.
:meth:`RoomJournal.sync` waits until everything written so far is on disk. One ``fdatasync``
runs at a time, in a worker thread; whoever asks while it runs waits for the next one, which
then covers them all: under load, many answers share one sync.

A failed write or sync leaves memory ahead of the disk, and after a failed sync Linux may
already have dropped the pages it could not write: the journal is then broken for good, and
every later change is refused until a restart rebuilds the room from what the disk has. The
part of a failed write that did reach the file is cut off again, so that a change answered
as not made does not come back at the restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from pyqueue._core import Room, journal_header
from pyqueue.backends.journal_file import RoomFiles, sync_directory, sync_file, write_all

log = logging.getLogger("pyqueue.journal")


class JournalBroken(Exception):
    """The journal could not be written or synced; the message says why. Raised once for the
    change that failed, and then for every change refused until a restart."""


class RoomJournal:
    def __init__(self, room: Room, files: RoomFiles, generation: int, fd: int) -> None:
        self.room = room
        self.files = files
        self.generation = generation
        self._fd = fd
        #: Length of the open journal file: a failed write is cut back to it.
        self._file_size = os.fstat(fd).st_size
        #: Bytes written and bytes known to be on disk, counted over the life of this object.
        self.written = 0
        self.synced = 0
        #: Journal bytes of the current generation, and when it began (for snapshot triggers).
        self.generation_bytes = 0
        self.generation_started = time.monotonic()
        #: Files of earlier generations with writes not yet synced; closed once they are.
        self._retired: list[int] = []
        self._directory_dirty = True
        self._syncing: asyncio.Future[None] | None = None
        self._rotating = asyncio.Lock()
        self.broken: str | None = None

    @classmethod
    def start(cls, room: Room, files: RoomFiles, generation: int) -> RoomJournal:
        """Begins ``generation`` for a room: its journal file, and, past generation 0, its
        snapshot. Synchronous, for start-up; everything is on disk when it returns."""
        fd = files.create_journal(generation, journal_header(room.id, generation))
        journal = cls(room, files, generation, fd)
        try:
            snapshot, pending = room.snapshot(generation) if generation else (b"", b"")
            journal.write(pending)
            journal.write()
            sync_file(fd)
            sync_directory(files.directory)
            journal.synced = journal.written
            journal._directory_dirty = False
            if generation:
                files.write_snapshot(generation, snapshot)
                files.prune()
        except BaseException:
            os.close(fd)
            raise
        return journal

    def write(self, extra: bytes = b"") -> int:
        """Appends ``extra`` (if given) and what the room recorded since the last call; returns
        the write position to pass to :meth:`sync`."""
        self._check()
        data = extra or self.room.drain_journal()
        if data:
            try:
                write_all(self._fd, data)
            except OSError as exc:
                self._break(f"writing the journal failed: {exc}{self._undo_partial_write()}")
            self._file_size += len(data)
            self.written += len(data)
            self.generation_bytes += len(data)
        return self.written

    def _undo_partial_write(self) -> str:
        """Cuts off what a failed write left in the file (records, or part of one, whose
        changes are answered as not made); says so if that failed too."""
        try:
            os.ftruncate(self._fd, self._file_size)
        except OSError as exc:
            return f" (and cutting off its partial write failed: {exc})"
        return ""

    def sync_now(self) -> None:
        """Syncs synchronously, for start-up, before the event loop serves anything."""
        self._check()
        try:
            self._sync_files([*self._retired, self._fd], self._directory_dirty)
        except OSError as exc:
            self._break(f"syncing the journal failed: {exc}")
        self._directory_dirty = False
        self.synced = self.written

    async def sync(self, upto: int | None = None) -> None:
        """Returns once every byte written before ``upto`` (default: now) is on disk."""
        target = self.written if upto is None else upto
        while self.synced < target:
            self._check()
            if self._syncing is None:
                self._syncing = asyncio.ensure_future(self._sync_now())
            await asyncio.shield(self._syncing)

    async def _sync_now(self) -> None:
        upto = self.written
        retired = list(self._retired)
        files = [*retired, self._fd]
        directory = self._directory_dirty
        self._directory_dirty = False
        try:
            await asyncio.to_thread(self._sync_files, files, directory)
        except OSError as exc:
            self._break(f"syncing the journal failed: {exc}")
        finally:
            self._syncing = None
        self.synced = max(self.synced, upto)
        for fd in retired:
            self._retired.remove(fd)
            os.close(fd)

    def _sync_files(self, files: list[int], directory: bool) -> None:
        for fd in files:
            sync_file(fd)
        if directory:
            sync_directory(self.files.directory)

    async def rotate(self) -> None:
        """Starts the next generation: a snapshot of the room, and a new journal after it.

        The records not drained when the snapshot was taken end the old journal, and the new
        journal exists before the snapshot is written, so a crash at any point leaves one
        complete chain (see :mod:`pyqueue.backends.journal_file`).
        """
        async with self._rotating:
            self._check()
            generation = self.generation + 1
            snapshot, pending = self.room.snapshot(generation)
            self.write(pending)
            try:
                fd = self.files.create_journal(generation, journal_header(self.room.id, generation))
            except OSError as exc:
                self._break(f"creating journal {generation} failed: {exc}")
            self._retired.append(self._fd)
            self._fd = fd
            self._file_size = os.fstat(fd).st_size
            self._directory_dirty = True
            self.generation = generation
            self.generation_bytes = 0
            self.generation_started = time.monotonic()
            await self.sync()
            try:
                await asyncio.to_thread(self.files.write_snapshot, generation, snapshot)
                await asyncio.to_thread(self.files.prune)
            except OSError as exc:
                # The journals hold everything still: the old snapshot and the journals from
                # its generation on. Only the next restart replays more than it would have.
                log.warning(
                    "writing a snapshot failed", extra={"room": self.room.id, "error": str(exc)}
                )
            else:
                log.info(
                    "snapshot written",
                    extra={"room": self.room.id, "generation": generation, "bytes": len(snapshot)},
                )

    async def close(self) -> None:
        """Writes and syncs what is left and closes the files (no snapshot: see the store)."""
        if self.broken is None:
            self.write()
            await self.sync()
        if self._syncing is not None:
            await asyncio.gather(self._syncing, return_exceptions=True)
        self.close_files()

    def close_files(self) -> None:
        """Closes the files as they are (what was written stays; nothing more is synced)."""
        for fd in [*self._retired, self._fd]:
            if fd >= 0:
                os.close(fd)
        self._retired.clear()
        self._fd = -1

    def _check(self) -> None:
        if self.broken is not None:
            raise JournalBroken(self.broken)

    def _break(self, message: str) -> None:
        if self.broken is None:
            self.broken = (
                f"room {self.room.id}: {message}. The change was not saved and counts as not "
                "made; changes are refused until the server is restarted"
            )
            log.critical(
                "the journal is broken: changes are refused until a restart",
                extra={"room": self.room.id, "error": message},
            )
        raise JournalBroken(self.broken)
