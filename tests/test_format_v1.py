"""Data folders written in format version 1 (by the commits named in tests/fixtures/format_v1,
with the old encoder) are restored by this version with the same tickets, states, places and
bookings; only the wait estimate's measurement starts again. The room serves on, goes on in
files of the current format, restarts from them (and from the version 1 files before them),
and ``pyqueue journal check`` accepts the folder."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import pyqueue
from pyqueue import journal_command
from pyqueue._core import JOURNAL_FORMAT_VERSION
from pyqueue.backends.memory import MemoryBackend
from tests.test_journal_store import Server, room

FIXTURES = Path(__file__).parent / "fixtures" / "format_v1"
#: The room of make_fixture.py.
SLOTS = [
    {"id": f"s{i}", "group": "Kiel", "starts_at": "2031-05-12T08:00:00+02:00"} for i in range(8)
]
WRITERS = ["7e62073", "d37222f"]


def format_of(path: Path) -> int:
    """The format version in a journal's or snapshot's header."""
    return int.from_bytes(path.read_bytes()[4:6], "little")


def written_by(writer: str, tmp_path: Path) -> tuple[Server, dict[str, Any]]:
    """A server on a copy of the fixture's data folder, at the fixture's time."""
    fixture = FIXTURES / f"written_by_{writer}"
    data_dir = tmp_path / "data"
    shutil.copytree(fixture / "data", data_dir)
    expected = json.loads((fixture / "expected.json").read_text())
    server = Server(data_dir, rooms=[room(admit_per_minute=6, max_active=3, slots=SLOTS)])
    server.clock.set(datetime.fromisoformat(expected["now"]))
    return server, expected


async def assert_as_written(backend: MemoryBackend, expected: dict[str, Any]) -> None:
    for ticket in expected["tickets"]:
        status = await backend.status("kiel", ticket["token"])
        seen = {"ticket_id": status.ticket, "state": status.state, "ahead": status.ahead}
        assert seen == {k: ticket[k] for k in seen}, ticket["token"]
    for code, booking in expected["bookings"].items():
        if booking is None:  # cancelled, before cancelled codes answered
            with pytest.raises(pyqueue.UnknownBooking):
                await backend.booking("kiel", code)
            continue
        found = await backend.booking("kiel", code)
        assert (found.slot, found.state) == (booking["slot"], booking["state"]), code
    counters = (await backend.room_info("kiel")).counters
    assert {k: counters[k] for k in expected["counters"]} == expected["counters"]


def files_of(data_dir: Path) -> Path:
    return data_dir / "rooms" / "kiel"


@pytest.mark.parametrize("writer", WRITERS)
def test_the_fixture_is_version_1_with_measured_ticks(writer):
    """The fixtures are what they claim: version 1 files, refused by a build that reads only
    the current format (checked when they were made; see their README)."""
    directory = files_of(FIXTURES / f"written_by_{writer}" / "data")
    files = sorted(directory.glob("*.pq?"))
    assert files and {format_of(path) for path in files} == {1} != {JOURNAL_FORMAT_VERSION}


@pytest.mark.parametrize("writer", WRITERS)
async def test_a_version_1_room_restores_serves_and_restarts(writer, tmp_path, caplog):
    server, expected = written_by(writer, tmp_path)
    backend = await server.start()
    await assert_as_written(backend, expected)
    waiting = [t["token"] for t in expected["tickets"] if t["state"] == "waiting"]
    # The speed version 1 measured is not carried over: the estimate measures again.
    assert (await backend.status("kiel", waiting[-1])).eta.reason == "measuring"

    # It serves on: a new ticket behind the others, admissions, a booking.
    joined = await backend.join("kiel", "phone:after-the-upgrade", None)
    assert (await backend.status("kiel", joined.token)).ahead == len(waiting)
    for _ in range(30):
        server.clock.advance(1.0)
        await backend.tick("kiel")
        for token in [*waiting, joined.token]:
            await backend.status("kiel", token)
    first = await backend.status("kiel", waiting[0])
    assert first.state == "admitted" and first.pass_token is not None
    free = [slot.id for slot in await backend.free_slots("kiel", None, 0, 100)]
    await backend.hold("kiel", free[0], first.pass_token)
    booking = await backend.confirm("kiel", free[0], first.pass_token)
    told = {t: (await backend.status("kiel", t)).ahead for t in [*waiting, joined.token]}
    directory = files_of(server.data_dir)
    newest = max(directory.glob("journal-*.pqj"))
    assert format_of(newest) == JOURNAL_FORMAT_VERSION
    assert format_of(max(directory.glob("snapshot-*.pqs"))) == JOURNAL_FORMAT_VERSION
    server.crash()

    # The version 1 generation stays the fallback of the first one in the current format.
    snapshots = sorted(directory.glob("snapshot-*.pqs"))
    assert [format_of(path) for path in snapshots] == [1, JOURNAL_FORMAT_VERSION]
    damaged = bytearray(snapshots[-1].read_bytes())
    damaged[-3] ^= 0xFF
    snapshots[-1].write_bytes(bytes(damaged))
    # A restart from it (the version 1 snapshot and journal, then the current journal), and
    # one from the current format's files after a crash: the same room.
    for restart in ("from the version 1 generation", "after a crash"):
        caplog.clear()
        backend = await server.start()
        replaced = "damaged snapshot replaced by the generation before it" in caplog.text
        assert replaced == (restart == "from the version 1 generation"), restart
        assert (await backend.booking("kiel", booking.code)).slot == free[0], restart
        assert {t: (await backend.status("kiel", t)).ahead for t in told} == told, restart
        for code, kept in expected["bookings"].items():
            if kept is not None:
                assert (await backend.booking("kiel", code)).slot == kept["slot"], restart
        server.crash()
    await server.start()
    await server.stop()


@pytest.mark.parametrize("writer", WRITERS)
async def test_journal_check_accepts_a_version_1_folder(writer, tmp_path, capsys):
    server, _ = written_by(writer, tmp_path)
    assert journal_command.check(server.data_dir) == 0
    shown = capsys.readouterr().out
    assert "room kiel" in shown and "DAMAGED" not in shown, shown
