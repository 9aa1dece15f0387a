"""The server process killed with SIGKILL in the middle of a surge, restarted on the same data
directory: every booking whose code a visitor saw is there, no slot is booked twice, every
ticket keeps its place in the same order. Damaged journal tails are cut with a message; damage
with whole records after it stops the start until `pyqueue journal repair` drops them; a
journal of another format version is refused, and a million joins replay in seconds."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import pyqueue
from pyqueue._core import journal_header
from tests.helpers.server import ROOT, Client, ServerProcess

pytestmark = pytest.mark.slow

ADMIN = "admin-token-for-the-durability-tests"
SLOT_COUNT = 240


def write_config(tmp_path: Path) -> Path:
    """Two rooms: in "kiel" a line forms (one admission a second), in "husum" visitors pass at
    once and book."""
    opens = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    slots = ",\n".join(
        f'  {{ id = "s{i}", group = "centre {i % 3}", starts_at = "{2031 + i // 60}-05-12T08:'
        f'{i % 60:02d}:00Z" }}'
        for i in range(SLOT_COUNT)
    )
    path = tmp_path / "pyqueue.toml"
    path.write_text(
        f"""[server]
admin_token = "{ADMIN}"
secrets = {{ k1 = "a-secret-for-the-durability-tests" }}
# The test looks every booking up again from one address, as no visitor would.
code_rate_per_minute = 0

[[rooms]]
id = "kiel"
opens_at = "{opens}"
admit_per_minute = 60
max_active = 1000
heartbeat_timeout_seconds = 600

[[rooms]]
id = "husum"
opens_at = "{opens}"
admit_per_minute = 6000
max_active = 100
slots = [
{slots}
]
"""
    )
    return path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Seen:
    """What the visitors were told before the crash."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: ticket token -> (ticket id, the last `ahead` it was told while waiting)
    tickets: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    #: booking code -> slot
    bookings: dict[str, str] = field(default_factory=dict)
    #: Confirms sent whose answer the crash cut off.
    confirms_unanswered: int = 0


def queuer(base_url: str, seen: Seen, stop: threading.Event, rng: random.Random) -> None:
    """Joins the line in "kiel" again and again, remembering each place it was told."""
    try:
        while not stop.is_set():
            joined = Client(base_url).request("POST", "/v1/rooms/kiel/join", {})
            if joined.status in (200, 201):
                body = joined.json()
                with seen.lock:
                    seen.tickets[body["ticket"]] = (body["ticket_id"], body["ahead"])
            time.sleep(rng.uniform(0.0, 0.03))
    except OSError:
        return  # the server was killed


def booker(base_url: str, seen: Seen, stop: threading.Event, rng: random.Random) -> None:
    """Joins "husum", holds a free slot and confirms it; again, until the server is gone."""
    try:
        while not stop.is_set():
            client = Client(base_url)
            joined = client.request("POST", "/v1/rooms/husum/join", {})
            if joined.status not in (200, 201) or joined.json()["state"] != "admitted":
                continue
            pass_token = joined.json()["pass"]
            listed = client.request(
                "GET", "/v1/rooms/husum/slots?limit=30", headers=bearer(pass_token)
            )
            free = [s["id"] for s in listed.json().get("slots", [])]
            if not free:
                return
            slot = rng.choice(free)
            held = client.request(
                "POST", f"/v1/rooms/husum/slots/{slot}/hold", headers=bearer(pass_token)
            )
            if held.status != 201:
                client.request("POST", "/v1/rooms/husum/complete", headers=bearer(pass_token))
                continue
            with seen.lock:
                seen.confirms_unanswered += 1
            booked = client.request(
                "POST", f"/v1/rooms/husum/slots/{slot}/confirm", headers=bearer(pass_token)
            )
            with seen.lock:
                seen.confirms_unanswered -= 1
                if booked.status == 201:
                    seen.bookings[booked.json()["code"]] = slot
    except OSError:
        return  # the server was killed


def surge_and_kill(config: Path, seen: Seen, rng: random.Random) -> None:
    server = ServerProcess(["--config", str(config)])
    with server:
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=target, args=(server.base_url, seen, stop, random.Random(rng.random()))
            )
            for target in (queuer, queuer, booker, booker, booker, booker)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(1.5, 4.0))
        assert server.process is not None
        server.process.kill()  # SIGKILL: no flush, no snapshot, no goodbye
        server.process.wait()
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def test_kill_9_during_a_surge_loses_nothing_a_visitor_was_told(tmp_path):
    config = write_config(tmp_path)
    seen = Seen()
    rng = random.Random(20210510)
    for _ in range(3):
        surge_and_kill(config, seen, rng)
    assert len(seen.tickets) > 20 and len(seen.bookings) > 3, (len(seen.tickets), seen.bookings)

    with ServerProcess(["--config", str(config)]) as server:
        client = server.client()
        # Every booking whose code a visitor saw is there, on the slot they saw.
        for code, slot in seen.bookings.items():
            answer = client.request("GET", f"/v1/rooms/husum/bookings/{code}")
            assert answer.status == 200 and answer.json()["slot"] == slot, (code, answer.body)
        # No slot booked twice: distinct slots, and no more bookings than confirms were made.
        assert len(set(seen.bookings.values())) == len(seen.bookings)
        stats = client.request("GET", "/v1/admin/rooms/husum/stats", headers=bearer(ADMIN)).json()
        booked = sum(group["booked"] for group in stats["groups"])
        # A confirm whose answer the crash cut off may or may not have been made.
        assert len(seen.bookings) <= booked <= len(seen.bookings) + seen.confirms_unanswered
        # Every ticket still has its place, in the same order, never further back. The line is
        # paused, so that the places read one after another belong to one moment.
        paused = client.request("POST", "/v1/admin/rooms/kiel/pause", headers=bearer(ADMIN))
        assert paused.status == 200, paused.body
        waiting = []
        for token, (ticket_id, ahead_before) in seen.tickets.items():
            answer = client.request("GET", "/v1/rooms/kiel/status", headers=bearer(token))
            assert answer.status == 200, answer.body
            status = answer.json()
            assert status["ticket_id"] == ticket_id
            if status["state"] == "waiting":
                if ahead_before is not None:
                    assert status["ahead"] <= ahead_before
                waiting.append((ticket_id, status["ahead"]))
        aheads = [ahead for _, ahead in sorted(waiting)]
        assert aheads == sorted(aheads) and len(set(aheads)) == len(aheads)
        assert "room restored" in server.log_messages()


def journal_of(config: Path) -> Path:
    directory = config.parent / "pyqueue-data" / "rooms" / "kiel"
    return max(directory.glob("journal-*.pqj"))


def joined_and_killed(config: Path, visitors: int) -> list[str]:
    with ServerProcess(["--config", str(config)]) as server:
        tokens = [server.client().request("POST", "/v1/rooms/kiel/join", {}).json()["ticket"]]
        tokens += [
            server.client().request("POST", "/v1/rooms/kiel/join", {}).json()["ticket"]
            for _ in range(visitors - 1)
        ]
        assert server.process is not None
        server.process.kill()
        server.process.wait()
    return tokens


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[:-3], "torn"),
        (lambda data: data + bytes(4096), "zeros"),
    ],
    ids=["truncated-record", "zero-filled-tail"],
)
def test_a_torn_journal_tail_is_cut_with_a_message(tmp_path, damage, reason):
    config = write_config(tmp_path)
    tokens = joined_and_killed(config, 6)
    journal = journal_of(config)
    journal.write_bytes(damage(journal.read_bytes()))

    with ServerProcess(["--config", str(config)]) as server:
        cuts = [e for e in server.logs if e.get("message") == "journal cut at its last good record"]
        assert len(cuts) == 1 and reason in cuts[0]["reason"], server.raw
        assert Path(cuts[0]["dropped_bytes_kept_in"]).exists()
        client = server.client()
        # Everything before the torn record is there.
        for token in tokens[:4]:
            assert (
                client.request("GET", "/v1/rooms/kiel/status", headers=bearer(token)).status == 200
            )
        assert client.request("POST", "/v1/rooms/kiel/join", {}).status == 201


def serve_once(config: Path) -> subprocess.CompletedProcess[str]:
    """`pyqueue serve` on `config` that is expected to refuse to start."""
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_a_journal_of_another_format_version_is_refused_with_what_to_do(tmp_path):
    config = write_config(tmp_path)
    joined_and_killed(config, 2)
    journal = journal_of(config)
    data = bytearray(journal.read_bytes())
    header = len(journal_header("kiel", 0))
    data[4:6] = (pyqueue._core.JOURNAL_FORMAT_VERSION + 1).to_bytes(2, "little")
    # Written by that version: the header's checksum covers its version.
    data[header - 4 : header] = zlib.crc32(data[: header - 4]).to_bytes(4, "little")
    journal.write_bytes(bytes(data))
    done = serve_once(config)
    assert done.returncode == 3, done.stderr
    assert "format version" in done.stderr and "move the room's data directory away" in done.stderr
    assert str(journal.parent) in done.stderr


def test_a_million_joins_replay_in_seconds(capsys):
    start = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
    clock = pyqueue.VirtualClock(start)
    signer = pyqueue.Signer({"k1": "a-secret-for-the-durability-tests"})
    config = pyqueue.RoomConfig("kiel", start, max_active=1000, seed=1)
    room = pyqueue.Room(config, signer, clock, journal=True)
    room.queue_all(True)
    for _ in range(1_000_000):
        room.join()
    data = journal_header("kiel", 0) + room.drain_journal()
    started = time.perf_counter()
    restored, report = pyqueue.Room.restore(signer, None, [data], clock)
    seconds = time.perf_counter() - started
    assert restored is not None and report.cut is None
    assert restored.info().waiting == room.info().waiting == 1_000_000
    with capsys.disabled():
        print(
            f"\nreplayed {report.records:,} records ({len(data) / 1e6:.1f} MB) in {seconds:.2f} s"
        )


def pyqueue_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyqueue.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def record_starts(data: bytes, room: str) -> list[int]:
    at = len(journal_header(room, 0))
    starts = []
    while at < len(data):
        starts.append(at)
        at += 8 + int.from_bytes(data[at : at + 4], "little")
    return starts


def test_mid_journal_damage_stops_serve_until_checked_and_repaired(tmp_path):
    config = write_config(tmp_path)
    data_dir = tmp_path / "pyqueue-data"
    journal = data_dir / "rooms" / "husum" / "journal-00000000.pqj"
    codes: dict[str, str] = {}
    with ServerProcess(["--config", str(config)]) as server:
        # Everything of the start (the room, its slots) is on disk before it serves.
        before = journal.stat().st_size
        for i in range(8):
            client = server.client()
            pass_token = client.request("POST", "/v1/rooms/husum/join", {}).json()["pass"]
            slot = f"s{i * 7}"
            held = client.request(
                "POST", f"/v1/rooms/husum/slots/{slot}/hold", headers=bearer(pass_token)
            )
            assert held.status == 201, held.body
            booked = client.request(
                "POST", f"/v1/rooms/husum/slots/{slot}/confirm", headers=bearer(pass_token)
            )
            assert booked.status == 201, booked.body
            codes[booked.json()["code"]] = slot
        assert server.process is not None
        server.process.kill()
        server.process.wait()
    data = bytearray(journal.read_bytes())
    starts = record_starts(bytes(data), "husum")
    index = next(i for i, at in enumerate(starts) if at >= before)
    data[starts[index] + 10] ^= 0x01
    journal.write_bytes(bytes(data))
    following = len(starts) - index - 1

    # A refused start ends at once.
    kiel = sorted((data_dir / "rooms" / "kiel").iterdir())
    done = serve_once(config)
    assert done.returncode == 4, done.stderr
    assert str(journal) in done.stderr and f"at byte {starts[index]}" in done.stderr
    # The damaged record itself is dropped too: one more than follow it.
    assert f"drop {following + 1} records (1 unreadable" in done.stderr, done.stderr
    assert journal.read_bytes() == bytes(data), "the start cut the damaged journal"
    assert sorted((data_dir / "rooms" / "kiel").iterdir()) == kiel, "the healthy room changed"

    check = pyqueue_command("journal", "check", str(data_dir))
    assert check.returncode == 4, check.stdout + check.stderr
    for code, slot in codes.items():
        assert f"{code}  {slot}" in check.stdout, check.stdout
    assert "room kiel: clean" in check.stdout
    refused = pyqueue_command("journal", "repair", str(data_dir))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    repaired = pyqueue_command("journal", "repair", str(data_dir), "--yes")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr

    with ServerProcess(["--config", str(config)]) as server:
        client = server.client()
        audit = client.request("GET", "/v1/admin/rooms/husum/audit", headers=bearer(ADMIN))
        last = audit.json()["entries"][-1]
        assert (last["action"], last["count"]) == ("journal_repair", following + 1), last
        assert all(code in last["reason"] for code in codes)
        gone = client.request("GET", f"/v1/rooms/husum/bookings/{next(iter(codes))}")
        assert gone.status == 404


def test_a_flipped_byte_in_the_last_record_or_the_header_is_refused_not_cut(tmp_path):
    config = write_config(tmp_path)
    joined_and_killed(config, 6)
    journal = journal_of(config)
    data = journal.read_bytes()
    last = record_starts(data, "kiel")[-1]
    for byte, where in [(last + 10, f"at byte {last}"), (4, "header is damaged")]:
        damaged = bytearray(data)
        damaged[byte] ^= 0x20
        journal.write_bytes(bytes(damaged))
        done = serve_once(config)
        assert done.returncode == 4, done.stderr
        assert str(journal) in done.stderr and where in done.stderr, done.stderr
        assert journal.read_bytes() == bytes(damaged), "the start changed the damaged journal"
        check = pyqueue_command("journal", "check", str(tmp_path / "pyqueue-data"))
        assert check.returncode == 4, check.stdout + check.stderr
