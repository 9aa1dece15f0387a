"""``pyqueue journal check DIR`` and ``pyqueue journal repair DIR [--yes]``.

DIR is a data_dir (every room in its ``rooms/``) or one room's directory. ``check`` only
reads: per room, whether its files restore whole, and where they are damaged, what a repair
would drop (bookings by code, cancellations, joins and admissions by ticket). ``repair`` shows
the same, asks (or takes ``--yes``), then truncates the damaged journal at the damage and
renames what cannot be applied, keeping a whole copy of every damaged file beside it, and
notes the repair in the room's audit log (action ``journal_repair``). A server must not run
on the data_dir meanwhile: ``repair`` takes its lock.

Every room is read and shown, whatever an earlier one holds; ``repair`` repairs every room it
can. Exit status: 0 clean (or repaired), 4 damage found (check) or left unrepaired (among it
damage no repair here can undo: every snapshot damaged, as ``serve`` exits with 4 for it), 3
saved state that no repair here can use (another format version, records that do not fit the
room), which wins over 4 when rooms hold both, 2 a usage mistake (DIR is not a data_dir,
``repair`` without ``--yes`` and no terminal to ask).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from pyqueue._core import Signer
from pyqueue.backends.durable import Durability, JournalStore
from pyqueue.backends.journal_file import RoomFiles
from pyqueue.backends.saved_state import (
    UNREPAIRABLE,
    Damage,
    Inspection,
    SavedStateError,
    inspect_room,
    repair,
    room_directories,
)
from pyqueue.config import INPUT_RULES

EXIT_DAMAGED: Final = 4  # as `serve` refusing damaged saved state
EXIT_UNUSABLE: Final = 3
EXIT_USAGE: Final = 2
REPAIR_ACTOR: Final = "pyqueue journal repair"


def audit_reason(reason: str) -> str:
    """A repair's reason as the audit log takes it: within the core's rule for a reason. A
    long list of dropped booking codes is cut there; the command printed it whole before."""
    limit = INPUT_RULES["reason"].max_bytes or 0
    if len(reason.encode()) <= limit:
        return reason
    suffix = " … (cut here; pyqueue journal repair printed the whole list)"
    kept = reason.encode()[: limit - len(suffix.encode())].decode(errors="ignore")
    return kept.rstrip() + suffix


def _throwaway_signer() -> Signer:
    # Restoring reads no token; the room's state holds no keys.
    return Signer({"check": secrets.token_urlsafe(32)})


def ranges(numbers: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1-3, 7``."""
    spans: list[list[int]] = []
    for number in sorted(set(numbers)):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans) or "none"


def describe(found: Inspection, out: TextIO) -> None:
    name = found.files.directory.name
    damage = found.damage
    if damage is None:
        report = found.report
        if found.room is None:
            print(f"room {name}: no saved state", file=out)
            return
        assert report is not None
        print(
            f"room {name}: clean (snapshot generation {report.snapshot_generation}, "
            f"{report.records} journal records)",
            file=out,
        )
        for path, why in found.replaced_snapshots:
            print(
                f"  {path.name} is damaged ({why}); the generation before it holds "
                "everything and replaces it at the next start",
                file=out,
            )
        cut = found.torn_tail
        if cut is not None:
            print(
                f"  torn tail: {cut.dropped_bytes} bytes at the end ({cut.reason}); nothing whole "
                "follows, and the next start cuts it",
                file=out,
            )
        return
    print(f"room {name}: DAMAGED", file=out)
    print(f"  {_where(damage)}: {damage.what}", file=out)
    if not damage.repairable:
        print(f"  {UNREPAIRABLE}", file=out)
        return
    _describe_dropped(damage, out)


def _where(damage: Damage) -> str:
    at = f" at byte {damage.offset}" if damage.offset is not None else ""
    return f"{damage.path}{at}"


def _describe_dropped(damage: Damage, out: TextIO) -> None:
    dropped = damage.dropped
    print(f"  a repair drops {dropped.records} records ({dropped.counts()}):", file=out)
    if dropped.unreadable:
        print(
            f"    {dropped.unreadable} of them unreadable: written whole, but their checksum "
            "fails now",
            file=out,
        )
    if dropped.bookings or dropped.possible_bookings:
        print("    bookings (code, slot):", file=out)
        for code, slot in dropped.bookings:
            print(f"      {code}  {slot or '(slot unknown)'}", file=out)
        for code, slot in dropped.possible_bookings:
            print(
                f"      {code}  {slot or '(slot unknown)'}  (possibly: read from the damaged "
                "record, whose checksum fails, so it may be garbled)",
                file=out,
            )
    if dropped.cancelled:
        print(f"    cancellations of slots: {', '.join(dropped.cancelled)}", file=out)
    print(f"    tickets joined: {ranges(dropped.joined)}", file=out)
    print(f"    tickets admitted: {ranges(dropped.admitted)}", file=out)
    if damage.cut is not None:
        path, offset = damage.cut
        print(f"  it truncates {path.name} to {offset} bytes (a whole copy is kept)", file=out)
    if damage.set_aside:
        names = ", ".join(p.name for p in damage.set_aside)
        print(f"  it sets aside (renames to skipped-…): {names}", file=out)


@dataclass
class Rooms:
    """Every room of a check or repair, read."""

    inspected: list[Inspection] = field(default_factory=list)
    #: Rooms that no repair here can use (see ``EXIT_UNUSABLE``).
    unusable: int = 0

    def exit_status(self, damaged: int) -> int:
        if self.unusable:
            return EXIT_UNUSABLE
        return EXIT_DAMAGED if damaged else 0


def _inspect(directories: list[Path], out: TextIO) -> Rooms:
    signer = _throwaway_signer()
    rooms = Rooms()
    for directory in directories:
        try:
            inspection = inspect_room(RoomFiles(directory), signer)
        except SavedStateError as exc:
            print(f"room {directory.name}: cannot be used: {exc}", file=out)
            rooms.unusable += 1
            continue
        describe(inspection, out)
        rooms.inspected.append(inspection)
    return rooms


def check(path: Path, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        _, directories = room_directories(path)
    except SavedStateError as exc:
        print(f"pyqueue: {exc}", file=sys.stderr)
        return EXIT_USAGE
    rooms = _inspect(directories, out)
    return rooms.exit_status(sum(1 for f in rooms.inspected if f.damage is not None))


def repair_command(path: Path, yes: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        data_dir, directories = room_directories(path)
    except SavedStateError as exc:
        print(f"pyqueue: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = JournalStore(data_dir, Durability(), _throwaway_signer())
    try:
        store.lock()
    except SavedStateError as exc:
        print(f"pyqueue: {exc}; stop the server before a repair", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _repair_locked(store, directories, yes, out)
    finally:
        store.release()


def _repair_locked(store: JournalStore, directories: list[Path], yes: bool, out: TextIO) -> int:
    rooms = _inspect(directories, out)
    damaged = [f for f in rooms.inspected if f.damage is not None]
    repairable = [f for f in damaged if f.damage is not None and f.damage.repairable]
    left = len(damaged) - len(repairable)
    if not repairable:
        print("nothing to repair" if not damaged else "nothing this command can repair", file=out)
        return rooms.exit_status(left)
    if not yes and not _confirmed(out):
        return EXIT_DAMAGED if sys.stdin.isatty() else EXIT_USAGE
    for inspection in repairable:
        if not _repair_room(store, inspection, out):
            left += 1
    return rooms.exit_status(left)


def _repair_room(store: JournalStore, inspection: Inspection, out: TextIO) -> bool:
    """Repairs one damaged room and notes it in its audit log; False if it still cannot be
    restored."""
    damage = inspection.damage
    assert damage is not None
    files = inspection.files
    reason, kept = repair(damage, files)
    try:
        room = store.restore_room(files)
    except SavedStateError as exc:
        print(f"room {files.directory.name}: still cannot be restored: {exc}", file=out)
        return False
    if room is None:
        print(
            f"room {files.directory.name}: repaired; it holds no room now (the room of "
            f"the config file starts anew). Kept aside: {', '.join(p.name for p in kept)}",
            file=out,
        )
        return True
    room.record_repair(damage.dropped.records, audit_reason(reason), actor=REPAIR_ACTOR)
    journal = store.journal(room.id)
    journal.write()
    journal.sync_now()
    print(
        f"room {room.id}: repaired, {damage.dropped.records} records dropped "
        f"(noted in its audit log). Kept aside: {', '.join(p.name for p in kept)}",
        file=out,
    )
    return True


def _confirmed(out: TextIO) -> bool:
    if not sys.stdin.isatty():
        print(
            "pyqueue: a repair drops the records shown above; run it with --yes to confirm "
            "(there is no terminal to ask)",
            file=sys.stderr,
        )
        return False
    out.flush()
    answer = input("Drop these records? Type yes to repair: ")
    return answer.strip().lower() == "yes"
