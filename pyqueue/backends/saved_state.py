"""What a room's files on disk allow: a restore as they are, a torn tail to cut, or damage that
an operator must repair first.

The core tells a torn tail from damage (:attr:`pyqueue._core.JournalCut.torn_tail`): a crash
tears only what was being written last, so nothing whole follows it and cutting it loses
nothing that was written whole. Whole records after damaged bytes (in the same journal or a
later one) mean the damage is in the middle, and cutting there would silently take back what
follows, bookings included. Such a room is refused until ``pyqueue journal repair`` drops what
follows, after showing it.

Snapshots: a damaged snapshot is replaced by the generation before it only when that chain is
provably complete: its snapshot reads, and its journals run without a gap up to the newest
journal on disk and replay to their end (a torn tail at most). It then holds everything the
damaged snapshot held and all that came after. Otherwise the room is refused the same way.
When every snapshot is damaged and no journal chain runs from the room's creation, nothing
here can rebuild the room: that damage is shown but not repaired.

This module only reads; :func:`repair` changes files, keeping every damaged file aside.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyqueue._core import (
    JournalCorrupt,
    JournalCut,
    JournalIncompatible,
    RestoreReport,
    Room,
    Signer,
    UnappliedRecords,
    VirtualClock,
    unapplied_records,
)
from pyqueue.backends.journal_file import Chain, RoomFiles, sync_directory


class SavedStateError(Exception):
    """The saved state cannot be used as it is; the message says what to do."""


class SavedStateDamaged(SavedStateError):
    """A room's journal or snapshot is damaged beyond a torn tail: starting would drop what
    follows the damage. ``pyqueue journal check`` shows it, ``pyqueue journal repair`` drops it."""


@dataclass(frozen=True)
class Dropped:
    """Records that a repair leaves out, read as far as they go (see
    :class:`pyqueue._core.UnappliedRecords`)."""

    #: Every record left out, the unreadable ones included.
    records: int = 0
    #: Records written whole once that fail their checksum now.
    unreadable: int = 0
    #: (booking code, slot id or None)
    bookings: tuple[tuple[str, str | None], ...] = ()
    #: What unreadable records seem to book: their checksum fails, so it may be garbled.
    possible_bookings: tuple[tuple[str, str | None], ...] = ()
    cancelled: tuple[str, ...] = ()
    joined: tuple[int, ...] = ()
    admitted: tuple[int, ...] = ()

    @classmethod
    def of(cls, *found: UnappliedRecords | None) -> Dropped:
        parts = [f for f in found if f is not None]
        return cls(
            records=sum(f.records for f in parts),
            unreadable=sum(f.unreadable for f in parts),
            bookings=tuple(b for f in parts for b in f.bookings),
            possible_bookings=tuple(b for f in parts for b in f.possible_bookings),
            cancelled=tuple(c for f in parts for c in f.cancelled),
            joined=tuple(t for f in parts for t in f.joined),
            admitted=tuple(t for f in parts for t in f.admitted),
        )

    def counts(self) -> str:
        counts = (
            f"{len(self.bookings)} bookings, {len(self.cancelled)} cancellations, "
            f"{len(self.joined)} joins, {len(self.admitted)} admissions"
        )
        if self.unreadable:
            counts = f"{self.unreadable} unreadable; {counts}"
        if self.possible_bookings:
            codes = ", ".join(code for code, _ in self.possible_bookings)
            counts = f"{counts}; possibly booking {codes}"
        return counts


@dataclass(frozen=True)
class Damage:
    """Damage that is not a torn tail, and what a repair does about it."""

    #: The damaged file.
    path: Path
    #: Where in it (journals), or None (a snapshot, a journal without the room's creation).
    offset: int | None
    #: What is wrong, in words.
    what: str
    #: The records a repair leaves out.
    dropped: Dropped
    #: A journal to truncate at the damage, if any.
    cut: tuple[Path, int] | None = None
    #: Files a repair renames so that they are not read again.
    set_aside: tuple[Path, ...] = ()
    #: False when no repair here can rebuild the room (every snapshot damaged).
    repairable: bool = True

    def message(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        if not self.repairable:
            return f"{self.path} is damaged{where}: {self.what}. {UNREPAIRABLE}"
        return (
            f"{self.path} is damaged{where}: {self.what}; starting would drop "
            f"{self.dropped.records} records ({self.dropped.counts()}). See them "
            f"with `pyqueue journal check {self.path.parent}`; drop them with `pyqueue journal "
            f"repair {self.path.parent}` (the damaged files are kept aside)"
        )


#: What to do about damage that no repair here can undo.
UNREPAIRABLE = (
    "No repair here can rebuild the room: move its directory out of the data_dir to start "
    "the room anew; its files stay there."
)


@dataclass
class Inspection:
    """One room's directory, read."""

    files: RoomFiles
    room: Room | None = None
    report: RestoreReport | None = None
    chain: Chain | None = None
    damage: Damage | None = None
    #: Damaged snapshots, with why; a provably complete older chain replaces them.
    replaced_snapshots: list[tuple[Path, str]] = field(default_factory=list)
    #: How long reading took, for the log.
    seconds: float = 0.0

    @property
    def torn_tail(self) -> JournalCut | None:
        cut = self.report.cut if self.report is not None else None
        return cut if cut is not None and cut.torn_tail else None


def _snapshot_damage(signer: Signer, snapshot: bytes, clock: VirtualClock | None) -> str | None:
    """None when the snapshot alone restores, else why not. Asked only after a chain failed to
    restore: it tells a damaged snapshot from journals that do not fit it."""
    try:
        Room.restore(signer, snapshot, [], clock)
    except JournalCorrupt as exc:
        return str(exc)
    return None


def inspect_room(files: RoomFiles, signer: Signer, clock: VirtualClock | None = None) -> Inspection:
    """Reads a room's directory: restores it as far as the files allow and says whether that is
    everything. Changes no file. Raises ``SavedStateError`` for files of another format,
    records that pass their checksum but do not fit the room (guessing could book a slot
    twice), or the state of another room."""
    found = Inspection(files)
    journals = files.journals()
    for chain in files.chains():
        try:
            snapshot, segments = chain.read()
            try:
                room, report = Room.restore(signer, snapshot, segments, clock)
            except JournalCorrupt:
                why = _snapshot_damage(signer, snapshot, clock) if snapshot is not None else None
                if why is None or chain.snapshot is None:
                    raise
                found.replaced_snapshots.append((chain.snapshot, why))
                continue
        except JournalIncompatible as exc:
            raise SavedStateError(f"{files.directory}: {exc}") from exc
        except JournalCorrupt as exc:
            named = ", ".join(p.name for p in chain.journals)
            raise SavedStateError(
                f"{files.directory} ({named}): {exc}. Move the directory out of the data_dir "
                "to start the room anew; its files stay there."
            ) from exc
        if room is not None and room.id != files.directory.name:
            raise SavedStateError(
                f"{files.directory} holds the state of room {room.id!r}: a room's directory "
                "must be named after the room; rename it or move it out of the data_dir"
            )
        found.room, found.report, found.chain = room, report, chain
        found.damage = _damage(found, journals)
        return found
    if found.replaced_snapshots:
        snapshots = "; ".join(f"{path.name}: {why}" for path, why in found.replaced_snapshots)
        found.damage = Damage(
            path=found.replaced_snapshots[0][0],
            offset=None,
            what=f"every snapshot is damaged ({snapshots}) and no complete chain of journals "
            "from the room's creation is there",
            dropped=Dropped(),
            repairable=False,
        )
        return found
    if journals:
        ordered = tuple(path for _, path in sorted(journals.items()))
        found.damage = Damage(
            path=ordered[0],
            offset=None,
            what="no snapshot comes before it, and the journal of the room's creation "
            "(generation 0) is missing",
            dropped=Dropped.of(unapplied_records([p.read_bytes() for p in ordered])),
            set_aside=ordered,
        )
    return found


def refuse_damaged(found: list[Inspection]) -> None:
    """Raises ``SavedStateDamaged`` naming every damaged room, if any is."""
    damaged = [f.damage.message() for f in found if f.damage is not None]
    if damaged:
        raise SavedStateDamaged("\n".join(damaged))


def _damage(found: Inspection, journals: dict[int, Path]) -> Damage | None:
    chain, report = found.chain, found.report
    assert chain is not None and report is not None
    cut = report.cut
    damaged_cut = cut is not None and not cut.torn_tail
    # The last generation the chain holds: a snapshot holds the journals before its own.
    if chain.journals:
        applied_to = _generation(chain.journals[-1])
    else:
        applied_to = _generation(chain.snapshot) - 1 if chain.snapshot is not None else -1
    # Journals the chain does not reach: after a gap, they cannot be applied.
    beyond = tuple(path for number, path in sorted(journals.items()) if number > applied_to)
    dropped = Dropped.of(
        cut.unapplied if cut is not None else None,
        unapplied_records([p.read_bytes() for p in beyond]) if beyond else None,
    )
    cut_at: tuple[Path, int] | None = None
    set_aside = (*_after_cut(chain, cut), *beyond)
    if cut is not None and damaged_cut:
        damaged = chain.journals[cut.segment]
        if found.room is None:
            # The room's creation is lost: nothing before the damage stands either.
            set_aside = (*chain.journals, *beyond)
        elif cut.offset == 0:
            # Its header is damaged: nothing of the file can be replayed.
            set_aside = (damaged, *set_aside)
        else:
            cut_at = (damaged, cut.offset)
    if found.replaced_snapshots and (beyond or damaged_cut):
        damaged, why = found.replaced_snapshots[0]
        return Damage(
            path=damaged,
            offset=None,
            what=f"{why}; the generation before it does not hold everything after it",
            dropped=dropped,
            cut=cut_at,
            set_aside=(*(path for path, _ in found.replaced_snapshots), *set_aside),
        )
    if cut is not None and damaged_cut:
        damaged = chain.journals[cut.segment]
        return Damage(damaged, cut.offset, cut.reason, dropped, cut_at, set_aside)
    if beyond:
        return Damage(
            path=beyond[0],
            offset=None,
            what=f"journal generation {applied_to + 1} is missing, so the journals after it "
            "cannot be applied",
            dropped=dropped,
            set_aside=beyond,
        )
    if found.room is None and chain.journals:
        first = chain.journals[0]
        size = first.stat().st_size
        what = (
            "an empty journal file"
            if size == 0
            else f"a truncated journal file ({size} bytes) without the room's creation"
        )
        return Damage(
            path=first,
            offset=None,
            what=f"{what}: the room never reached the disk whole",
            dropped=dropped,
            set_aside=chain.journals,
        )
    return None


def _after_cut(chain: Chain, cut: JournalCut | None) -> tuple[Path, ...]:
    return chain.journals[cut.segment + 1 :] if cut is not None else ()


def _generation(path: Path) -> int:
    return int(path.stem.split("-")[1])


# ----- repair -------------------------------------------------------------------------------


def keep_aside(files: RoomFiles, path: Path, prefix: str) -> Path:
    """A copy of a damaged file beside it, named ``<prefix>-<name>-<time>`` (numbered when
    that is taken): evidence is never destroyed, nor replaced by later evidence."""
    return files.keep_copy(path, prefix, path.read_bytes())


def repair(damage: Damage, files: RoomFiles) -> tuple[str, list[Path]]:
    """Drops what the damage makes unreadable: truncates the damaged journal (a whole copy is
    kept as ``damaged-…``) and renames the files it cannot apply (``skipped-…``). Returns the
    reason for the audit log and the files kept aside."""
    assert damage.repairable, "shown, never repaired"
    kept: list[Path] = []
    if damage.cut is not None:
        path, offset = damage.cut
        kept.append(keep_aside(files, path, "damaged"))
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, offset)
            os.fsync(fd)
        finally:
            os.close(fd)
    for path in damage.set_aside:
        kept.append(files.set_aside(path))
    sync_directory(files.directory)
    found = damage.dropped
    codes = ", ".join(code for code, _ in found.bookings) or "none"
    if found.possible_bookings:
        possibly = ", ".join(code for code, _ in found.possible_bookings)
        codes = f"{codes}; possibly {possibly} (read from a damaged record)"
    where = f" at byte {damage.offset}" if damage.offset is not None else ""
    reason = (
        f"{damage.path.name} damaged{where} ({damage.what}): dropped {found.records} records"
        f" ({found.counts()}); booking codes dropped: {codes}; "
        f"files kept aside: {', '.join(p.name for p in kept)}"
    )
    return reason, kept


def room_directories(path: Path) -> tuple[Path, list[Path]]:
    """The data_dir and the room directories that ``path`` names: a data_dir (every room in
    its ``rooms/``) or one room's directory. Raises ``SavedStateError`` for anything else."""
    if (path / "rooms").is_dir():
        return path, sorted(p for p in (path / "rooms").iterdir() if p.is_dir())
    if path.is_dir() and (path.parent.name == "rooms" or _has_generations(path)):
        return path.parent.parent, [path]
    raise SavedStateError(
        f"{path} is neither a data_dir (a directory with rooms/ in it) nor a room's directory "
        "(with journal-*.pqj or snapshot-*.pqs files)"
    )


def _has_generations(path: Path) -> bool:
    files = RoomFiles(path)
    return files.newest_generation() >= 0
