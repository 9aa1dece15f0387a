"""The memory backend with a data_dir, in process: restarts, fsync policies, group commit,
snapshots, damaged files (refused, checked, repaired), config-file changes and a broken
disk."""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import pyqueue
from pyqueue import journal_command
from pyqueue._core import journal_header
from pyqueue.backends import BackendUnavailable
from pyqueue.backends import room_journal as room_journal_module
from pyqueue.backends.durable import SavedStateDamaged, SavedStateError
from pyqueue.backends.memory import MemoryBackend
from pyqueue.config import merged_room_config, settings_from_mapping
from tests.helpers.api import start_api

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
SECRET = "a-test-secret-of-32-bytes-length!"
SLOTS = [
    {"id": f"s{i}", "group": "Kiel", "starts_at": "2031-05-12T08:00:00+02:00"} for i in range(6)
]


def settings(data_dir: Path, *, rooms: list[dict[str, Any]] | None = None, **server: Any) -> Any:
    rooms = rooms if rooms is not None else [room()]
    data = {
        "server": {"secrets": {"k1": SECRET}, "data_dir": str(data_dir), **server},
        "rooms": rooms,
    }
    return settings_from_mapping(data, base_dir=data_dir.parent, env={})


def room(**changes: Any) -> dict[str, Any]:
    return {
        "id": "kiel",
        "opens_at": OPENS_AT.isoformat(),
        "admit_per_minute": 600,
        "max_active": 3,
        "slots": SLOTS,
        **changes,
    }


class Server:
    """A backend on a data dir, restarted at will on the same virtual clock."""

    def __init__(self, data_dir: Path, **server: Any) -> None:
        self.data_dir = data_dir
        self.server = server
        self.clock = pyqueue.VirtualClock(OPENS_AT + timedelta(seconds=5))
        self.backend: MemoryBackend | None = None

    async def start(self, **server: Any) -> MemoryBackend:
        self.server.update(server)
        self.backend = MemoryBackend.from_settings(
            settings(self.data_dir, **self.server), self.clock
        )
        await self.backend.start()
        return self.backend

    async def stop(self) -> None:
        assert self.backend is not None
        await self.backend.close()

    def crash(self) -> None:
        """Like kill -9: nothing is flushed, files and the lock are left as they are."""
        assert self.backend is not None and self.backend._store is not None
        store = self.backend._store
        for task in self.backend.tasks():
            task.cancel()
        for journal in store._journals.values():
            journal.broken = "crashed"
        store._journals.clear()
        import os

        if store._lock_fd is not None:
            os.close(store._lock_fd)
            store._lock_fd = None


async def admitted(backend: MemoryBackend) -> tuple[str, str]:
    ticket = await backend.join("kiel", None, None)
    status = await backend.status("kiel", ticket.token)
    assert status.pass_token is not None
    return ticket.token, status.pass_token


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


async def test_a_crash_keeps_tickets_bookings_and_order(data_dir):
    server = Server(data_dir)
    backend = await server.start()
    token, pass_token = await admitted(backend)
    await backend.hold("kiel", "s1", pass_token)
    booking = await backend.confirm("kiel", "s1", pass_token)
    await backend.queue_all("kiel", True, "test")
    waiting = [(await backend.join("kiel", f"phone:{i}", None)).token for i in range(8)]
    before = [(await backend.status("kiel", t)).ahead for t in waiting]
    server.crash()

    backend = await server.start()
    assert (await backend.booking("kiel", booking.code)).slot == "s1"
    assert (await backend.status("kiel", token)).state == "completed"
    after = [(await backend.status("kiel", t)).ahead for t in waiting]
    assert after == before == list(range(8))
    again = await backend.join("kiel", "phone:3", None)
    assert again.token == waiting[3] and not again.new
    await server.stop()


async def test_a_cancelled_booking_and_a_refused_release_come_back(data_dir):
    """From the journal after a crash, and from the snapshot a graceful stop writes."""
    server = Server(data_dir)
    backend = await server.start()
    _, pass_token = await admitted(backend)
    await backend.hold("kiel", "s1", pass_token)
    booking = await backend.confirm("kiel", "s1", pass_token)
    cancelled, _ = await backend.cancel("kiel", booking.code)
    assert cancelled.state == "cancelled" and cancelled.cancelled_at == server.clock.now()
    with pytest.raises(pyqueue.ReleaseRefused):
        await backend.release("kiel", False, "asked too early", "anna")
    server.crash()
    for restart in ("after a crash", "after a graceful stop"):
        backend = await server.start()
        assert await backend.booking("kiel", booking.code) == cancelled, restart
        refused = [e for e in await backend.audit_log("kiel") if e.action == "release_refused"]
        assert [(e.actor, e.count, e.reason) for e in refused] == [
            ("anna", 0, "asked too early")
        ], restart
        await server.stop()


async def test_a_graceful_stop_leaves_nothing_to_replay(data_dir, caplog):
    server = Server(data_dir)
    backend = await server.start()
    for i in range(5):
        await backend.join("kiel", f"phone:{i}", None)
    await server.stop()
    caplog.set_level("INFO", logger="pyqueue.journal")
    backend = await server.start()
    restored = [r for r in caplog.records if r.getMessage() == "room restored"]
    assert restored and restored[-1].journal_records == 0  # type: ignore[attr-defined]
    assert (await backend.room_info("kiel")).counters["joined"] == 5
    await server.stop()


async def test_interval_policy_syncs_bookings_before_the_answer(data_dir, monkeypatch):
    syncs: list[int] = []
    real = room_journal_module.sync_file
    monkeypatch.setattr(room_journal_module, "sync_file", lambda fd: (syncs.append(fd), real(fd)))
    server = Server(data_dir, fsync="interval", fsync_interval_ms=60_000)
    backend = await server.start()
    syncs.clear()
    _, pass_token = await admitted(backend)
    await backend.hold("kiel", "s2", pass_token)
    assert syncs == [], "a join or hold waited for the disk under the interval policy"
    await backend.confirm("kiel", "s2", pass_token)
    assert syncs, "the booking was answered before it was on disk"
    await server.stop()


async def test_concurrent_changes_share_syncs(data_dir, monkeypatch):
    syncs: list[int] = []
    real = room_journal_module.sync_file

    def slow_sync(fd: int) -> None:
        syncs.append(fd)
        real(fd)
        import time

        time.sleep(0.01)

    monkeypatch.setattr(room_journal_module, "sync_file", slow_sync)
    server = Server(data_dir)
    backend = await server.start()
    syncs.clear()
    await asyncio.gather(*(backend.join("kiel", f"phone:{i}", None) for i in range(200)))
    assert 0 < len(syncs) < 50, f"{len(syncs)} syncs for 200 joins"
    await server.stop()


async def test_snapshots_start_new_generations_and_old_ones_go(data_dir):
    server = Server(data_dir, snapshot_journal_bytes=2000, fsync="interval", fsync_interval_ms=5)
    backend = await server.start()
    tokens = []
    for i in range(400):
        tokens.append((await backend.join("kiel", f"phone:{i}", None)).token)
        if i % 50 == 0:
            await asyncio.sleep(0.03)
    await asyncio.sleep(0.1)
    files = sorted(p.name for p in (data_dir / "rooms" / "kiel").iterdir())
    snapshots = [f for f in files if f.startswith("snapshot-")]
    assert 1 <= len(snapshots) <= 2 and "journal-00000000.pqj" not in files, files
    server.crash()
    backend = await server.start()
    assert [(await backend.status("kiel", t)).ticket for t in tokens] == list(range(400))
    await server.stop()


async def test_rooms_created_over_the_admin_api_come_back(data_dir):
    server = Server(data_dir)
    backend = await server.start()
    config = pyqueue.RoomConfig("husum", OPENS_AT, handoff_url="https://book.example/", seed=9)
    await backend.create_room(config, "anna")
    await backend.add_slots("husum", SLOTS, "anna")
    changed = pyqueue.RoomConfig("husum", OPENS_AT, admit_per_minute=90, seed=9)
    await backend.update_room(changed, "anna")
    server.crash()
    backend = await server.start()
    assert sorted(await backend.room_ids()) == ["husum", "kiel"]
    restored = await backend.room_config("husum")
    assert (restored.admit_per_minute, restored.handoff_url) == (90, None)
    actions = [e.action for e in await backend.audit_log("husum")]
    assert actions == ["load_slots", "config"]
    await server.stop()


async def test_config_file_changes_apply_once_and_admin_changes_stay(data_dir):
    server = Server(data_dir)
    backend = await server.start()
    current = await backend.room_config("kiel")
    await backend.update_room(merged_room_config(current, {"max_active": 40}), "anna")
    await server.stop()
    # The file did not change: the operator's change stays.
    backend = await server.start()
    assert (await backend.room_config("kiel")).max_active == 40
    await server.stop()
    # The file changed: it wins, and its new slots are loaded.
    more = [*SLOTS, {"id": "t1", "group": "Kiel", "starts_at": "2031-05-13T08:00:00+02:00"}]
    backend = await server.start(rooms=[room(max_active=7, slots=more)])
    assert (await backend.room_config("kiel")).max_active == 7
    groups = await backend.availability("kiel")
    assert sum(g.free for g in groups) == 7
    await server.stop()


async def test_one_process_per_data_dir(data_dir):
    server = Server(data_dir)
    await server.start()
    with pytest.raises(SavedStateError, match="in use by another pyqueue process"):
        MemoryBackend.from_settings(settings(data_dir), server.clock)
    await server.stop()


async def test_a_damaged_newest_snapshot_falls_back_to_the_one_before(data_dir):
    server = Server(data_dir)
    backend = await server.start()
    tokens = [(await backend.join("kiel", f"phone:{i}", None)).token for i in range(5)]
    await server.stop()
    backend = await server.start()
    tokens.append((await backend.join("kiel", "phone:late", None)).token)
    await server.stop()
    directory = data_dir / "rooms" / "kiel"
    newest = max(directory.glob("snapshot-*.pqs"))
    damaged = bytearray(newest.read_bytes())
    damaged[-3] ^= 0xFF
    newest.write_bytes(bytes(damaged))
    backend = await server.start()
    assert [(await backend.status("kiel", t)).ticket for t in tokens] == list(range(6))
    assert not newest.exists(), "the damaged snapshot was not set aside"
    await server.stop()


async def test_a_broken_disk_refuses_changes_until_a_restart(data_dir, monkeypatch):
    server = Server(data_dir)
    backend = await server.start()
    await backend.join("kiel", "phone:1", None)

    def full(fd: int, data: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(room_journal_module, "write_all", full)
    with pytest.raises(BackendUnavailable, match="No space left"):
        await backend.join("kiel", "phone:2", None)
    assert not await backend.ready()
    with pytest.raises(BackendUnavailable):
        await backend.join("kiel", "phone:3", None)
    monkeypatch.undo()
    server.crash()
    backend = await server.start()
    assert (await backend.room_info("kiel")).counters["joined"] == 1
    await server.stop()


async def test_an_incompatible_journal_is_refused_with_what_to_do(data_dir):
    server = Server(data_dir)
    await server.start()
    server.crash()
    journal = data_dir / "rooms" / "kiel" / "journal-00000000.pqj"
    newer = pyqueue._core.JOURNAL_FORMAT_VERSION + 1
    journal.write_bytes(written_as_version(journal.read_bytes(), "kiel", newer))
    with pytest.raises(SavedStateError, match="move the room's data directory away"):
        await server.start()


# ----- damage that is not a torn tail, check and repair ---------------------------------------


def written_as_version(data: bytes, room: str, version: int) -> bytes:
    """A journal of `room` as a writer of format `version` would have written it: the version
    in its header, and the header's checksum over that (a flipped byte is damage instead)."""
    header = len(journal_header(room, 0))
    changed = bytearray(data)
    changed[4:6] = version.to_bytes(2, "little")
    changed[header - 4 : header] = zlib.crc32(changed[: header - 4]).to_bytes(4, "little")
    return bytes(changed)


def kiel_dir(data_dir: Path) -> Path:
    return data_dir / "rooms" / "kiel"


def record_starts(data: bytes) -> list[int]:
    """Where each record of a journal of room "kiel" starts."""
    at = len(journal_header("kiel", 0))
    starts = []
    while at < len(data):
        starts.append(at)
        at += 8 + int.from_bytes(data[at : at + 4], "little")
    return starts


async def booked(server: Server, count: int) -> tuple[Path, int, list[str]]:
    """A started server's room with `count` bookings made after the start, then a crash:
    the journal, its length before the bookings, and the codes."""
    backend = await server.start()
    journal = max(kiel_dir(server.data_dir).glob("journal-*.pqj"))
    before = journal.stat().st_size
    codes = []
    for i in range(count):
        _, pass_token = await admitted(backend)
        await backend.hold("kiel", f"s{i}", pass_token)
        codes.append((await backend.confirm("kiel", f"s{i}", pass_token)).code)
    server.crash()
    return journal, before, codes


def flip_first_record_after(journal: Path, before: int) -> tuple[bytes, int, int]:
    """Flips a byte of the first record written after `before`: the damaged bytes, the
    record's offset and how many whole records follow it."""
    data = journal.read_bytes()
    starts = record_starts(data)
    index = next(i for i, at in enumerate(starts) if at >= before)
    damaged = bytearray(data)
    damaged[starts[index] + 9] ^= 0x20
    journal.write_bytes(bytes(damaged))
    return bytes(damaged), starts[index], len(starts) - index - 1


async def test_a_flipped_byte_mid_journal_refuses_the_start_naming_file_offset_and_count(data_dir):
    server = Server(data_dir)
    journal, before, _ = await booked(server, 3)
    damaged, offset, following = flip_first_record_after(journal, before)
    assert following > 6
    with pytest.raises(SavedStateDamaged) as refused:
        await server.start()
    message = str(refused.value)
    assert str(journal) in message and f"at byte {offset}" in message, message
    # The damaged record is dropped too, and counted as unreadable.
    assert f"drop {following + 1} records (1 unreadable; 3 bookings" in message, message
    assert "pyqueue journal repair" in message
    assert journal.read_bytes() == damaged, "the journal was cut although records follow"


async def test_check_lists_what_a_repair_drops_and_repair_audits_it(data_dir, capsys):
    server = Server(data_dir)
    journal, before, codes = await booked(server, 3)
    damaged, _, following = flip_first_record_after(journal, before)
    assert journal_command.check(data_dir) == 4
    shown = capsys.readouterr().out
    assert "room kiel: DAMAGED" in shown and f"drops {following + 1} records" in shown
    for i, code in enumerate(codes):
        assert f"{code}  s{i}" in shown, shown
    assert "tickets joined: 0-2" in shown and "tickets admitted: 0-2" in shown, shown
    # Not interactive and no --yes: refused, nothing changed.
    assert journal_command.repair_command(data_dir, yes=False) == 2
    assert "--yes" in capsys.readouterr().err
    assert journal.read_bytes() == damaged
    assert journal_command.repair_command(data_dir, yes=True) == 0
    assert "room kiel: repaired" in capsys.readouterr().out
    copies = list(kiel_dir(data_dir).glob("damaged-journal-00000000.pqj-*"))
    assert [c.read_bytes() for c in copies] == [damaged], "the damaged file was not kept"
    assert journal_command.check(data_dir) == 0

    backend = await server.start()
    repair = (await backend.audit_log("kiel"))[-1]
    assert (repair.action, repair.actor, repair.count) == (
        "journal_repair",
        "pyqueue journal repair",
        following + 1,
    )
    assert repair.reason is not None and all(code in repair.reason for code in codes)
    for code in codes:
        with pytest.raises(pyqueue.UnknownBooking):
            await backend.booking("kiel", code)
    await server.stop()


async def test_a_torn_tail_is_still_cut_and_served(data_dir):
    server = Server(data_dir)
    journal, _, codes = await booked(server, 2)
    data = journal.read_bytes()
    last = record_starts(data)[-1]
    journal.write_bytes(data[: last + 5])
    assert journal_command.check(data_dir) == 0
    backend = await server.start()
    assert (await backend.booking("kiel", codes[0])).slot == "s0"
    assert len(journal.read_bytes()) >= last
    await server.stop()


async def test_a_damaged_snapshot_without_a_complete_generation_before_is_refused(data_dir, capsys):
    server = Server(data_dir)
    await server.start()
    await server.stop()
    backend = await server.start()
    late = [(await backend.join("kiel", f"phone:{i}", None)).token for i in range(3)]
    await server.stop()
    directory = kiel_dir(data_dir)
    newest = max(directory.glob("snapshot-*.pqs"))
    newest.write_bytes(newest.read_bytes()[:-5])
    # The generation before it lost a record in the middle too: it cannot stand in.
    generation = int(newest.stem.split("-")[1])
    older = directory / f"journal-{generation - 1:08d}.pqj"
    data = older.read_bytes()
    starts = record_starts(data)
    damaged = bytearray(data)
    damaged[starts[0] + 9] ^= 0x20
    older.write_bytes(bytes(damaged))
    with pytest.raises(SavedStateDamaged, match=str(newest)):
        await server.start()
    assert newest.exists()
    assert journal_command.check(data_dir) == 4
    assert "does not hold everything after it" in capsys.readouterr().out
    assert journal_command.repair_command(directory, yes=True) == 0
    backend = await server.start()
    assert (await backend.audit_log("kiel"))[-1].action == "journal_repair"
    with pytest.raises(pyqueue.UnknownTicket):
        await backend.status("kiel", late[-1])
    await server.stop()


async def test_an_empty_first_journal_says_so(data_dir, capsys):
    server = Server(data_dir)
    await server.start()
    server.crash()
    journal = kiel_dir(data_dir) / "journal-00000000.pqj"
    journal.write_bytes(b"")
    with pytest.raises(SavedStateDamaged, match="empty journal file") as refused:
        await server.start()
    assert str(journal) in str(refused.value) and "another room" not in str(refused.value)
    journal.write_bytes(journal_header("kiel", 0)[:9])
    with pytest.raises(SavedStateDamaged, match=r"truncated journal file \(9 bytes\)"):
        await server.start()
    assert journal_command.repair_command(data_dir, yes=True) == 0
    backend = await server.start()
    assert [r.action for r in await backend.audit_log("kiel")] == ["load_slots"]
    await server.stop()


async def test_a_room_directory_that_is_a_file_says_so(data_dir):
    kiel_dir(data_dir).parent.mkdir(parents=True)
    kiel_dir(data_dir).write_text("not a directory")
    with pytest.raises(SavedStateError, match=f"{kiel_dir(data_dir)} is a file, not a directory"):
        await Server(data_dir).start()


async def test_a_failed_write_is_cut_back_and_ticks_stay_quiet(data_dir, monkeypatch, caplog):
    server = Server(data_dir)
    backend = await server.start()
    await backend.join("kiel", "phone:1", None)
    journal = max(kiel_dir(data_dir).glob("journal-*.pqj"))
    size = journal.stat().st_size
    real = room_journal_module.write_all

    def half_then_full(fd: int, data: Any) -> None:
        real(fd, bytes(data)[: len(data) - 1])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(room_journal_module, "write_all", half_then_full)
    with pytest.raises(BackendUnavailable, match="was not saved and counts as not made"):
        await backend.join("kiel", "phone:2", None)
    assert journal.stat().st_size == size, "the part of the failed write stayed in the file"
    for _ in range(3):
        assert (await backend.tick("kiel")).admitted == 0
    monkeypatch.undo()
    server.crash()
    caplog.set_level("WARNING", logger="pyqueue.journal")
    backend = await server.start()
    assert not [r for r in caplog.records if "cut" in r.getMessage()]
    assert (await backend.room_info("kiel")).counters["joined"] == 1
    await server.stop()


async def test_a_full_disk_answers_503_saying_the_change_was_not_made(
    tmp_path, aiohttp_client, monkeypatch, caplog
):
    api = await start_api(aiohttp_client, data_dir=str(tmp_path / "data"))

    def full(fd: int, data: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(room_journal_module, "write_all", full)
    caplog.set_level("INFO")
    response, body = await api.json("POST", "/v1/rooms/kiel/join", 503, json={})
    assert body["error"]["code"] == "unavailable"
    assert "No space left on device" in body["error"]["message"]
    assert "not saved and counts as not made" in body["error"]["message"]
    assert response.headers["Retry-After"]
    await api.json("GET", "/readyz", 503)
    broken = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert len(broken) == 1 and "journal is broken" in broken[0].getMessage()
    # The ticker keeps going without an error per tick.
    for _ in range(5):
        await api.advance(1)
    assert api.state.metrics.tick_errors == 0
    assert not [r for r in caplog.records if r.exc_info]
    await api.json("POST", "/v1/rooms/kiel/join", 503, json={})


# ----- what a review of the damage handling found ----------------------------------------------

SLOT_SET_TAG = 17
#: A SlotSet payload without a booking code: tag, index (u32), word (u64), code 0 (varint).
SLOT_SET_WITHOUT_CODE = 14


def booking_record_starts(data: bytes, after: int) -> list[int]:
    """The records after byte `after` that book a slot (a SlotSet carrying a code)."""
    return [
        at
        for at in record_starts(data)
        if at >= after
        and data[at + 8] == SLOT_SET_TAG
        and int.from_bytes(data[at : at + 4], "little") > SLOT_SET_WITHOUT_CODE
    ]


async def test_the_damaged_record_itself_is_counted_and_its_booking_named(data_dir, capsys):
    server = Server(data_dir)
    journal, before, codes = await booked(server, 3)
    data = journal.read_bytes()
    starts = record_starts(data)
    first_booking = booking_record_starts(data, before)[0]
    following = len(starts) - starts.index(first_booking) - 1
    damaged = bytearray(data)
    damaged[first_booking + 8 + 6] ^= 0x01  # in the slot's state word: the code still reads
    journal.write_bytes(bytes(damaged))

    with pytest.raises(SavedStateDamaged) as refused:
        await server.start()
    message = str(refused.value)
    assert f"{following + 1} records" in message and "1 unreadable" in message, message
    assert f"possibly booking {codes[0]}" in message, message
    assert journal_command.check(data_dir) == 4
    shown = capsys.readouterr().out
    assert f"drops {following + 1} records" in shown, shown
    assert f"{codes[0]}  s0  (possibly: read from the damaged record" in shown, shown
    for i, code in enumerate(codes[1:], 1):
        assert f"{code}  s{i}\n" in shown, shown
    assert journal_command.repair_command(data_dir, yes=True) == 0
    backend = await server.start()
    repair = (await backend.audit_log("kiel"))[-1]
    assert repair.count == following + 1
    assert repair.reason is not None and f"possibly {codes[0]}" in repair.reason, repair.reason
    await server.stop()


async def test_a_flipped_byte_in_the_last_whole_record_is_damage_not_a_torn_tail(data_dir, capsys):
    server = Server(data_dir)
    journal, _, codes = await booked(server, 2)
    data = journal.read_bytes()
    last = record_starts(data)[-1]
    damaged = bytearray(data)
    damaged[last + 9] ^= 0x20
    journal.write_bytes(bytes(damaged))
    with pytest.raises(SavedStateDamaged, match=f"at byte {last}"):
        await server.start()
    assert journal.read_bytes() == bytes(damaged), "the damaged record was cut silently"
    assert journal_command.check(data_dir) == 4
    assert "drops 1 records (1 unreadable" in capsys.readouterr().out
    assert journal_command.repair_command(data_dir, yes=True) == 0
    backend = await server.start()
    assert (await backend.booking("kiel", codes[1])).slot == "s1"
    await server.stop()


async def test_zeros_after_the_last_record_are_a_torn_tail(data_dir):
    server = Server(data_dir)
    journal, _, codes = await booked(server, 2)
    data = journal.read_bytes()
    journal.write_bytes(data + bytes(4096))
    assert journal_command.check(data_dir) == 0
    backend = await server.start()
    assert (await backend.booking("kiel", codes[1])).slot == "s1"
    assert journal.read_bytes() == data
    await server.stop()


def listing(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


async def test_a_refused_start_changes_no_file_of_any_room(data_dir):
    rooms = [room(id="husum"), room()]
    server = Server(data_dir, rooms=rooms)
    await server.start()
    await server.stop()
    journal, before, _ = await booked(server, 2)
    # A torn tail in the healthy room, which a start that went ahead would cut.
    husum = data_dir / "rooms" / "husum"
    newest = max(husum.glob("journal-*.pqj"))
    newest.write_bytes(newest.read_bytes() + b"\x07\x00")
    flip_first_record_after(journal, before)
    files = listing(data_dir / "rooms")
    with pytest.raises(SavedStateDamaged):
        await server.start()
    assert listing(data_dir / "rooms") == files


@pytest.mark.parametrize("byte", [1, 4, 5, 9, 15, 19, 22])
async def test_a_flipped_byte_in_a_journal_header_is_damage_to_repair(data_dir, capsys, byte):
    server = Server(data_dir)
    await server.start()
    await server.stop()
    journal, _, codes = await booked(server, 2)
    assert journal.name != "journal-00000000.pqj"
    data = journal.read_bytes()
    records = len(record_starts(data))
    damaged = bytearray(data)
    damaged[byte] ^= 0x02
    journal.write_bytes(bytes(damaged))
    with pytest.raises(SavedStateDamaged, match="header") as refused:
        await server.start()
    assert f"{records} records" in str(refused.value), str(refused.value)
    assert journal_command.check(data_dir) == 4
    shown = capsys.readouterr().out
    assert all(f"{code}  s{i}" in shown for i, code in enumerate(codes)), shown
    assert journal_command.repair_command(data_dir, yes=True) == 0
    backend = await server.start()
    assert (await backend.audit_log("kiel"))[-1].count == records
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.booking("kiel", codes[0])
    await server.stop()


class CountingRestores:
    """Stands in for ``Room`` in the saved-state module and counts restores from a snapshot."""

    def __init__(self) -> None:
        self.from_snapshot = 0

    def restore(
        self, signer: Any, snapshot: bytes | None, journals: list[bytes], clock: Any
    ) -> Any:
        self.from_snapshot += snapshot is not None
        return pyqueue.Room.restore(signer, snapshot, journals, clock)


async def test_each_snapshot_is_restored_once_per_start(data_dir, monkeypatch):
    from pyqueue.backends import saved_state

    server = Server(data_dir)
    await server.start()
    await server.stop()
    counting = CountingRestores()
    monkeypatch.setattr(saved_state, "Room", counting)
    await server.start()
    assert counting.from_snapshot == 1
    await server.stop()


def every_snapshot_damaged(data_dir: Path) -> None:
    for snapshot in kiel_dir(data_dir).glob("snapshot-*.pqs"):
        snapshot.write_bytes(snapshot.read_bytes()[:-5])


async def test_check_and_serve_agree_when_every_snapshot_is_damaged(data_dir, capsys):
    server = Server(data_dir)
    for _ in range(3):
        await server.start()
        await server.stop()
    assert not (kiel_dir(data_dir) / "journal-00000000.pqj").exists()
    every_snapshot_damaged(data_dir)
    with pytest.raises(SavedStateDamaged, match="every snapshot is damaged"):
        await server.start()
    assert journal_command.check(data_dir) == journal_command.EXIT_DAMAGED
    assert "room kiel: DAMAGED" in capsys.readouterr().out
    assert journal_command.repair_command(data_dir, yes=True) == journal_command.EXIT_DAMAGED
    assert "move its directory out of the data_dir" in capsys.readouterr().out


async def test_check_and_repair_go_on_past_an_unusable_room(data_dir, capsys):
    rooms = [room(id="husum"), room()]
    server = Server(data_dir, rooms=rooms)
    journal, before, codes = await booked(server, 2)
    husum = max((data_dir / "rooms" / "husum").glob("journal-*.pqj"))
    newer = pyqueue._core.JOURNAL_FORMAT_VERSION + 1
    husum.write_bytes(written_as_version(husum.read_bytes(), "husum", newer))
    flip_first_record_after(journal, before)
    assert journal_command.check(data_dir) == journal_command.EXIT_UNUSABLE
    shown = capsys.readouterr().out
    assert "room husum: cannot be used" in shown and "room kiel: DAMAGED" in shown, shown
    assert f"{codes[0]}  s0" in shown
    assert journal_command.repair_command(data_dir, yes=True) == journal_command.EXIT_UNUSABLE
    assert "room kiel: repaired" in capsys.readouterr().out
    assert list(kiel_dir(data_dir).glob("damaged-*"))
    assert journal_command.check(data_dir) == journal_command.EXIT_UNUSABLE
    assert "room kiel: clean" in capsys.readouterr().out


def test_copies_kept_aside_in_the_same_second_do_not_overwrite_each_other(tmp_path, monkeypatch):
    from pyqueue.backends import journal_file, saved_state

    monkeypatch.setattr(journal_file.time, "time", lambda: 1_700_000_000.0)
    files = journal_file.RoomFiles(tmp_path)
    journal = tmp_path / "journal-00000003.pqj"
    kept = []
    for content in (b"first damage", b"second damage"):
        journal.write_bytes(content)
        kept.append(saved_state.keep_aside(files, journal, "damaged"))
    assert [path.read_bytes() for path in kept] == [b"first damage", b"second damage"]
    for content in (b"first cut", b"second cut"):
        journal.write_bytes(b"head" + content)
        kept.append(files.cut(journal, 4))  # type: ignore[arg-type]
    set_aside = []
    for content in (b"first skipped", b"second skipped"):
        journal.write_bytes(content)
        set_aside.append(files.set_aside(journal))
    assert [path.read_bytes() for path in kept[2:]] == [b"first cut", b"second cut"]
    assert [path.read_bytes() for path in set_aside] == [b"first skipped", b"second skipped"]


async def test_a_damaged_header_of_the_first_journal_empties_the_room_on_repair(data_dir, capsys):
    server = Server(data_dir)
    journal, _, codes = await booked(server, 1)
    assert journal.name == "journal-00000000.pqj"
    damaged = bytearray(journal.read_bytes())
    damaged[10] ^= 0x01
    journal.write_bytes(bytes(damaged))
    with pytest.raises(SavedStateDamaged, match="header is damaged"):
        await server.start()
    assert journal_command.check(data_dir) == 4
    assert f"{codes[0]}  s0" in capsys.readouterr().out
    assert journal_command.repair_command(data_dir, yes=True) == 0
    assert "it holds no room now" in capsys.readouterr().out
    skipped = list(kiel_dir(data_dir).glob("skipped-journal-00000000.pqj-*"))
    assert [path.read_bytes() for path in skipped] == [bytes(damaged)]
    backend = await server.start()
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.booking("kiel", codes[0])
    assert (await backend.room_info("kiel")).counters["joined"] == 0
    await server.stop()
