"""One room's saved state on disk: numbered generations of a snapshot and a journal.

::

    <data_dir>/rooms/<room>/
        snapshot-00000007.pqs   the whole room when generation 7 began
        journal-00000007.pqj    every change since (a header, then checksummed records)
        snapshot-00000006.pqs   the generation before, kept as a fallback
        journal-00000006.pqj
        file-config.json        the config-file settings last applied to the room
        dropped-…, skipped-…    bytes cut from a torn journal, files set aside, kept to inspect
        damaged-…               whole copies of damaged journals a repair truncated

A new generation's journal is created before its snapshot is written, so at every moment one
of two chains holds everything: the newest snapshot and the journals from its generation on,
or the snapshot before it and the journals from that one's generation on. Generation 0 has no
snapshot: its journal starts with the room's creation. The encoding is the core's; this
module only moves bytes, and syncs files and directories so that what it reports written is
on disk.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

_SNAPSHOT: Final = re.compile(r"snapshot-(\d{8})\.pqs")
_JOURNAL: Final = re.compile(r"journal-(\d{8})\.pqj")
FILE_CONFIG: Final = "file-config.json"
#: The names of evidence files begin with these (see ``keep_copy`` and ``set_aside``).
_EVIDENCE_PREFIXES: Final = ("dropped-", "skipped-", "damaged-")


@dataclass(frozen=True)
class Chain:
    """A snapshot (or none: generation 0) and the journals that follow it, oldest first."""

    snapshot: Path | None
    journals: tuple[Path, ...]

    def read(self) -> tuple[bytes | None, list[bytes]]:
        snapshot = self.snapshot.read_bytes() if self.snapshot else None
        return snapshot, [path.read_bytes() for path in self.journals]


def sync_directory(path: Path) -> None:
    """Makes the directory's entries (a created, renamed or removed file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a write may take only part)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def sync_file(fd: int) -> None:
    # fdatasync skips the times, which nobody reads back; the size it must sync anyway.
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # pragma: no cover - macOS
        os.fsync(fd)


class RoomFiles:
    """The files of one room's directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def snapshot_path(self, generation: int) -> Path:
        return self.directory / f"snapshot-{generation:08d}.pqs"

    def journal_path(self, generation: int) -> Path:
        return self.directory / f"journal-{generation:08d}.pqj"

    def _numbered(self, pattern: re.Pattern[str]) -> dict[int, Path]:
        if not self.directory.is_dir():
            return {}
        found = {}
        for path in self.directory.iterdir():
            match = pattern.fullmatch(path.name)
            if match:
                found[int(match.group(1))] = path
        return found

    def snapshots(self) -> dict[int, Path]:
        return self._numbered(_SNAPSHOT)

    def journals(self) -> dict[int, Path]:
        return self._numbered(_JOURNAL)

    def newest_generation(self) -> int:
        """The highest generation on disk, -1 when there is none."""
        return max([*self.snapshots(), *self.journals()], default=-1)

    def chains(self) -> Iterator[Chain]:
        """What to restore from, best first: each snapshot, newest first, with the unbroken
        run of journals from its generation on; then, without a snapshot, the journals from
        generation 0 (which begin with the room's creation)."""
        journals = self.journals()

        def run_from(generation: int) -> tuple[Path, ...]:
            run = []
            while generation in journals:
                run.append(journals[generation])
                generation += 1
            return tuple(run)

        for generation, path in sorted(self.snapshots().items(), reverse=True):
            yield Chain(path, run_from(generation))
        if 0 in journals:
            yield Chain(None, run_from(0))

    # ----- writing ------------------------------------------------------------------------------

    def create_journal(self, generation: int, header: bytes) -> int:
        """Creates the journal of a new generation with its header; returns the open file
        (appending). The header and the directory entry are synced by the caller's next sync,
        together with the records that follow."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.journal_path(generation)
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600
        )
        try:
            write_all(fd, header)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_journal(self, generation: int) -> int:
        """Opens an existing journal for appending."""
        return os.open(self.journal_path(generation), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def write_snapshot(self, generation: int, data: bytes) -> Path:
        """Writes a snapshot whole or not at all: to a temporary file, synced, then renamed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.snapshot_path(generation)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        sync_directory(self.directory)
        return path

    def prune(self) -> None:
        """Removes what no chain needs any more: everything before the second-newest
        snapshot, which with the journals after it stays the fallback of the newest."""
        snapshots = sorted(self.snapshots(), reverse=True)
        removed = False
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink(missing_ok=True)
            removed = True
        if len(snapshots) >= 2:
            keep_from = snapshots[1]
            for found in (self.snapshots(), self.journals()):
                for number, path in found.items():
                    if number < keep_from:
                        path.unlink(missing_ok=True)
                        removed = True
        if removed:
            sync_directory(self.directory)

    def remove_before(self, generation: int) -> list[Path]:
        """Removes every generation before ``generation`` and every piece of evidence (what
        was cut, set aside or copied from damaged files), since all of them may hold records
        of personal data that ``generation``'s snapshot no longer has. Returns what it removed.
        ``generation``'s snapshot must be on disk: it is then the one chain left."""
        if generation not in self.snapshots():
            raise FileNotFoundError(f"no snapshot of generation {generation} in {self.directory}")
        removed = []
        for found in (self.snapshots(), self.journals()):
            removed += [path for number, path in found.items() if number < generation]
        removed += [
            path
            for path in self.directory.iterdir()
            if path.name.startswith(_EVIDENCE_PREFIXES) or path.suffix == ".tmp"
        ]
        for path in removed:
            path.unlink(missing_ok=True)
        sync_directory(self.directory)
        return removed

    # ----- evidence: what is cut or set aside is kept beside the room's files --------------

    def _new_evidence_file(self, prefix: str, path: Path) -> tuple[Path, int]:
        """Creates ``<prefix>-<name>-<time>`` beside ``path`` (``…-<time>-2``, ``-3``, … when
        that is taken: two repairs in one second), never an existing file, so that no piece of
        evidence replaces another. Returns it and its open descriptor."""
        stem = f"{prefix}-{path.name}-{int(time.time())}"
        for number in itertools.count(1):
            target = self.directory / (stem if number == 1 else f"{stem}-{number}")
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                return target, os.open(target, flags, 0o600)
            except FileExistsError:
                continue
        raise AssertionError("unreachable")  # pragma: no cover

    def keep_copy(self, path: Path, prefix: str, data: bytes) -> Path:
        """Writes ``data`` (of ``path``) to a new evidence file, synced; returns it."""
        target, fd = self._new_evidence_file(prefix, path)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return target

    def cut(self, path: Path, offset: int) -> Path | None:
        """Truncates a damaged journal to its good part. The bytes cut off are kept beside it
        (``dropped-…``), so that nothing is destroyed that someone might want to look at."""
        data = path.read_bytes()
        kept = self.keep_copy(path, "dropped", data[offset:]) if len(data) > offset else None
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        sync_directory(self.directory)
        return kept

    def set_aside(self, path: Path) -> Path:
        """Renames a file that must not be read again (``skipped-…``): a journal after a
        damaged one, a damaged snapshot."""
        target, fd = self._new_evidence_file("skipped", path)
        os.close(fd)
        # Replaces only the empty file just created for it (the data_dir's lock keeps
        # everybody else out).
        os.replace(path, target)
        sync_directory(self.directory)
        return target

    # ----- the config file's settings -------------------------------------------------------

    def read_file_config(self) -> dict[str, Any] | None:
        try:
            loaded = orjson.loads((self.directory / FILE_CONFIG).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def write_file_config(self, settings: dict[str, Any]) -> None:
        path = self.directory / FILE_CONFIG
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS))
        os.replace(temporary, path)
        sync_directory(self.directory)
