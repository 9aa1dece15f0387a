"""Rooms saved before the ranges of the input rules were narrowed keep running.

An earlier version took ``session_seconds = 1209600`` or ``max_bookings_per_identity = 500``.
Its journals, snapshots and Redis records hold them in the same format as today's, so the
tests write the rooms with today's code and values at the edge of today's ranges, then put the
older values into the saved bytes exactly where that version wrote them (checksums
recomputed). Restoring such a room must keep every booking, keep the saved values, and warn
once naming each setting out of range; refusing it would lose the bookings, or on Redis fail
every request for the room.
"""

from __future__ import annotations

import json
import logging
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
import redis

import pyqueue
from pyqueue.backends.redis_backend import RedisBackend
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.keys import RoomKeys
from pyqueue.config import ConfigError, merged_room_config
from tests.helpers.saved_state import varint
from tests.redis_fixtures import SIGNER_KEYS, flush, redis_url  # noqa: F401 - fixture by name
from tests.test_journal_store import OPENS_AT, SLOTS, Server

#: Today's largest values, as saved, and what an earlier version saved in their place.
TODAY: dict[str, int] = {"session_seconds": 604_800, "max_bookings_per_identity": 100}
EARLIER: dict[str, int] = {"session_seconds": 1_209_600, "max_bookings_per_identity": 500}
OUT_OF_RANGE = [
    "session_seconds must be between 1 and 604800, got 1209600",
    "max_bookings_per_identity must be between 1 and 100, got 500",
]
#: A slot group of today's rules, and the same with a tab, which the earlier version took.
TODAYS_GROUP, EARLIER_GROUP = "Kiel-Nord", "Kiel\tNord"
#: The other whole-number settings of the room, so that its block of them is unmistakable.
OTHERS: dict[str, int] = {
    "max_active": 77,
    "heartbeat_timeout_seconds": 61,
    "hold_seconds": 299,
    "offer_seconds": 599,
}


def husum(**settings: int) -> pyqueue.RoomConfig:
    return pyqueue.RoomConfig("husum", OPENS_AT, seed=9, **OTHERS, **settings)


def whole_numbers(values: dict[str, int]) -> bytes:
    """The whole-number settings as the saved config holds them (``codec::put_config``)."""
    both = {**OTHERS, **values}
    order = [
        "max_active",
        "session_seconds",
        "heartbeat_timeout_seconds",
        "max_bookings_per_identity",
        "hold_seconds",
        "offer_seconds",
    ]
    return b"".join(varint(both[name]) for name in order)


def earlier(saved: bytes) -> bytes:
    """A saved config or slot batch as the earlier version wrote it."""
    saved = saved.replace(whole_numbers(TODAY), whole_numbers(EARLIER))
    return saved.replace(TODAYS_GROUP.encode(), EARLIER_GROUP.encode())


def as_saved_earlier(data: bytes, *, snapshot: bool) -> bytes:
    """``data`` (a journal or a snapshot of room husum) with the earlier values in place of
    today's, every length and checksum recomputed: what the earlier version wrote."""
    room_end = 15 + data[14]
    if snapshot:
        body = earlier(data[room_end + 16 :])
        assert body != data[room_end + 16 :], "the snapshot holds the room's config"
        header = data[:room_end] + struct.pack("<QI", len(body), zlib.crc32(body))
        return header + struct.pack("<I", zlib.crc32(header)) + body
    out, at = bytearray(data[: room_end + 4]), room_end + 4
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "little")
        payload = earlier(data[at + 8 : at + 8 + length])
        out += struct.pack("<II", len(payload), zlib.crc32(payload)) + payload
        at += 8 + length
    assert bytes(out) != data, "the journal holds the room's config"
    return bytes(out)


def range_warnings(caplog: pytest.LogCaptureFixture, room: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "pyqueue.rooms" and getattr(r, "room", None) == room
    ]


async def booked_husum(server: Server) -> tuple[str, str, str]:
    """Starts the server (the room is open), creates room husum at today's edge and books a
    slot; returns the booking code, the visitor's ticket token and its state."""
    backend = await server.start()
    await backend.create_room(husum(**TODAY), "anna")
    await backend.add_slots(
        "husum", [*SLOTS, {**SLOTS[0], "id": "n1", "group": TODAYS_GROUP}], "anna"
    )
    ticket = await backend.join("husum", None, None)
    status = await backend.status("husum", ticket.token)
    assert status.pass_token is not None
    await backend.hold("husum", "s1", status.pass_token)
    booking = await backend.confirm("husum", "s1", status.pass_token)
    return booking.code, ticket.token, (await backend.status("husum", ticket.token)).state


@pytest.mark.parametrize("saved_in", ["journal", "snapshot"])
async def test_a_room_saved_with_values_out_of_todays_range_restores(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, saved_in: str
) -> None:
    server = Server(tmp_path / "data")
    code, token, state = await booked_husum(server)
    assert server.backend is not None and server.backend._store is not None
    if saved_in == "snapshot":
        await server.backend._store.journal("husum").rotate()
    server.crash()
    directory = tmp_path / "data" / "rooms" / "husum"
    pattern = "snapshot-*.pqs" if saved_in == "snapshot" else "journal-00000000.pqj"
    saved = sorted(directory.glob(pattern))
    assert saved, sorted(p.name for p in directory.iterdir())
    saved[-1].write_bytes(as_saved_earlier(saved[-1].read_bytes(), snapshot=saved_in == "snapshot"))

    caplog.set_level(logging.WARNING, logger="pyqueue.rooms")
    backend = await server.start()
    config = await backend.room_config("husum")
    assert (config.session_seconds, config.max_bookings_per_identity) == (1_209_600, 500)
    assert config.outside_ranges() == OUT_OF_RANGE
    assert (await backend.booking("husum", code)).slot == "s1"
    groups = {g.group: g.free for g in await backend.availability("husum")}
    assert groups == {"Kiel": 5, EARLIER_GROUP: 1}
    assert (await backend.status("husum", token)).state == state
    warnings = range_warnings(caplog, "husum")
    assert len(warnings) == 1 and warnings[0].outside_ranges == OUT_OF_RANGE  # type: ignore[attr-defined]
    assert range_warnings(caplog, "kiel") == []

    # A change is input: it must bring the saved values into range, and then it is taken.
    with pytest.raises(ConfigError, match="session_seconds must be between 1 and 604800"):
        merged_room_config(config, {"max_active": 5})
    await backend.update_room(husum(**TODAY), "anna")
    assert (await backend.room_config("husum")).outside_ranges() == []
    await server.stop()


@pytest.mark.redis
async def test_a_room_stored_in_redis_with_values_out_of_todays_range_serves(
    redis_url: str,  # noqa: F811 - the fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    flush(redis_url)
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(minutes=1))
    signer = pyqueue.Signer(SIGNER_KEYS)
    writer = RedisBackend(redis_url, signer, clock, refresh_seconds=0.0)
    await writer.start()
    await writer.create_room(husum(**TODAY), "anna")
    await writer.close()
    # What the earlier version stored on creating the room: its settings and the scripts' copy.
    keys = RoomKeys("husum")
    with redis.Redis.from_url(redis_url) as client:
        stored = json.loads(client.get(keys.config) or b"{}")
        assert {name: stored[name] for name in TODAY} == TODAY
        stored.update(EARLIER)
        client.set(keys.config, json.dumps(stored))
        session_us = EARLIER["session_seconds"] * 1_000_000
        meta = {"session_us": session_us, "limit": EARLIER["max_bookings_per_identity"]}
        client.hset(keys.meta, mapping=meta)

    caplog.set_level(logging.WARNING, logger="pyqueue.rooms")
    backend = RedisBackend(redis_url, signer, clock, refresh_seconds=0.0)
    await backend.start()
    try:
        for _ in range(3):
            config = await backend.room_config("husum")
            assert (config.session_seconds, config.max_bookings_per_identity) == (1_209_600, 500)
        ticket = await backend.join("husum", None, None)
        clock.set(OPENS_AT + timedelta(seconds=5))
        await backend.tick("husum")
        status = await backend.status("husum", ticket.token)
        assert status.state == "admitted" and status.pass_expires_in_seconds > 86_400
        warnings = range_warnings(caplog, "husum")
        assert len(warnings) == 1 and warnings[0].outside_ranges == OUT_OF_RANGE  # type: ignore[attr-defined]
        await backend.update_room(husum(**TODAY), "anna")
        assert (await backend.room_config("husum")).outside_ranges() == []
    finally:
        await backend.close()


def test_saved_settings_are_held_to_what_the_core_relies_on() -> None:
    saved = json.loads(rec.config_to_json(husum(**TODAY)))
    assert pyqueue.RoomConfig.saved({**saved, **EARLIER}).outside_ranges() == OUT_OF_RANGE
    for change, message in [
        ({"session_seconds": 0}, "session_seconds must be at least 1"),
        ({"admit_per_minute": 0}, "admit_per_minute must be above 0"),
        ({"id": "hus um"}, "room id"),
        ({"closes_at": OPENS_AT.isoformat()}, "closes_at must be after opens_at"),
        ({"max_active": 2**32}, "max_active must be between 0 and 4294967295"),
        ({"timezone": "Europe/Kiel"}, "unknown timezone"),
    ]:
        with pytest.raises(pyqueue.InvalidConfig, match=message):
            pyqueue.RoomConfig.saved({**saved, **change})
    missing = dict(saved)
    del missing["seed"]
    with pytest.raises(pyqueue.InvalidConfig, match="lack seed"):
        pyqueue.RoomConfig.saved(missing)
    with pytest.raises(
        pyqueue.InvalidConfig,
        match='unknown setting "sesion_seconds"',
    ):
        pyqueue.RoomConfig.saved({**saved, "sesion_seconds": 5})


def test_saved_settings_are_every_setting_and_read_back_the_same() -> None:
    config = pyqueue.RoomConfig(
        "husum",
        OPENS_AT,
        closes_at=OPENS_AT + timedelta(days=1),
        identity="required",
        release_windows=["Mon-Fri 07:00"],
        timezone="Europe/Berlin",
        handoff_url="/book",
        seed=9,
        challenge_max_number=10_000,
    )
    saved = config.saved_settings()
    assert saved["opens_at"] == OPENS_AT.isoformat() and saved["prequeue_opens_at"] is None
    again = pyqueue.RoomConfig.saved(json.loads(json.dumps(saved)))
    assert again.saved_settings() == saved
