"""A room's personal data (identities, labels, booking codes) is deleted once its retention
after closing has run out, by the backend's own "retention" task, or at once by the admin call
on a closed room; the audit log keeps the counts. Afterwards nothing of it is left in the data
folder (every file is scanned) or in Redis (every key and value), and a restart does not bring
it back. On both backends, on a virtual clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

import pyqueue
from pyqueue._core import identity_pseudonym
from pyqueue.backends import Backend
from pyqueue.backends.memory import MemoryBackend
from pyqueue.backends.redis_backend import RedisBackend
from pyqueue.backends.redis_backend.keys import RoomKeys
from pyqueue.server.logs import JsonAccessLogger, JsonFormatter
from tests.helpers.api import ADMIN, OPENS_AT, make_settings, room_table, start_api
from tests.helpers.saved_state import varint
from tests.redis_fixtures import SIGNER_KEYS, flush, redis_url  # noqa: F401 - fixture by name

ROOM = "kiel"
CLOSES_AT = OPENS_AT + timedelta(hours=2)
RETAIN_HOURS = 3
IDENTITY = "person-4711-identity"
LABEL = "label-0815-of-a-visitor"
#: The slots begin before the room closes, so the closing is what the retention counts from.
SLOTS = [
    {"id": f"s{i}", "group": "Kiel", "starts_at": OPENS_AT + timedelta(minutes=10 * i)}
    for i in range(3)
]
#: Generous: the retention task runs every few seconds.
WAIT_SECONDS = 60.0


@dataclass
class Stored:
    """A backend of one kind on a virtual clock, which can be restarted on the same storage,
    and a scan of that storage for given texts."""

    kind: str
    clock: pyqueue.VirtualClock
    make: Callable[[], Backend]
    found_in_storage: Callable[[list[str]], list[str]]
    #: The pseudonyms of an identity this storage could hold (on Redis: under the room's key).
    pseudonyms: Callable[[str], list[str]]
    backend: Backend | None = None

    async def start(self) -> Backend:
        self.backend = self.make()
        await self.backend.start()
        return self.backend

    async def restart(self) -> Backend:
        assert self.backend is not None
        await self.backend.close()
        return await self.start()


def _settings(data_dir: Path) -> Any:
    table = room_table(
        ROOM,
        closes_at=CLOSES_AT.isoformat(),
        retain_personal_data_hours=RETAIN_HOURS,
        max_bookings_per_identity=2,
    )
    return make_settings([table], data_dir=str(data_dir))


#: Crockford's base 32, the booking codes' alphabet.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _code_as_saved(code: str) -> bytes:
    """A booking code as the core saves it: its 50 bits as a LEB128 varint."""
    value = 0
    for symbol in code.replace("-", ""):
        value = value * 32 + _CODE_ALPHABET.index(symbol)
    return varint(value)


def _as_bytes(text: str) -> bytes:
    """A personal value's bytes in saved state: a code (``XXXXX-XXXXX``) also as its number."""
    if len(text) == 11 and text[5] == "-" and all(c in _CODE_ALPHABET for c in text[:5]):
        return _code_as_saved(text)
    return text.encode()


def _files_holding(data_dir: Path, texts: list[str]) -> list[str]:
    found = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {t}" for t in texts if t.encode() in data]
            found += [f"{path.name}: {t} (saved)" for t in texts if _as_bytes(t) in data]
    return found


def _redis_holding(url: str, texts: list[str]) -> list[str]:
    found = []
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            if kind == "string":
                values = [client.get(key)]
            elif kind == "hash":
                values = [b for pair in client.hgetall(key).items() for b in pair]
            elif kind == "list":
                values = client.lrange(key, 0, -1)
            elif kind == "set":
                values = list(client.smembers(key))
            elif kind == "zset":
                values = [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
            else:
                raise AssertionError(f"a key of type {kind} this scan does not read: {key!r}")
            blob = b"\n".join([key, *[v for v in values if v is not None]])
            found += [f"{key.decode()}: {t}" for t in texts if t.encode() in blob]
    return found


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def stored(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stored]:
    clock = pyqueue.VirtualClock(OPENS_AT)
    if request.param == "memory":
        data_dir = tmp_path / "data"
        settings = _settings(data_dir)
        setup = Stored(
            "memory",
            clock,
            lambda: MemoryBackend.from_settings(settings, clock),
            lambda texts: _files_holding(data_dir, texts),
            # The key is inside the room's saved state; the core's tests look at the index.
            lambda identity: [],
        )
    else:
        url = request.getfixturevalue("redis_url")
        flush(url)
        config = pyqueue.RoomConfig(
            ROOM,
            OPENS_AT,
            closes_at=CLOSES_AT,
            retain_personal_data_hours=RETAIN_HOURS,
            max_bookings_per_identity=2,
            seed=2021,
        )

        def make() -> Backend:
            signer = pyqueue.Signer(SIGNER_KEYS)
            return RedisBackend(url, signer, clock, refresh_seconds=0.0, configured=[(config, [])])

        def pseudonyms(identity: str) -> list[str]:
            with redis.Redis.from_url(url) as client:
                key = client.get(RoomKeys(ROOM).identity_key)
            assert key is not None
            return [identity_pseudonym(key.decode(), identity)]

        setup = Stored("redis", clock, make, lambda texts: _redis_holding(url, texts), pseudonyms)
    await setup.start()
    try:
        yield setup
    finally:
        assert setup.backend is not None
        await setup.backend.close()


async def _book(backend: Backend, clock: pyqueue.VirtualClock) -> str:
    """A visitor with an identity and a label books a slot; returns the booking code."""
    await backend.add_slots(ROOM, SLOTS, "test")
    await backend.tick(ROOM)
    clock.advance(10)  # admissions earned since the opening
    ticket = await backend.join(ROOM, IDENTITY, None, label=LABEL)
    status = await backend.status(ROOM, ticket.token)
    assert status.state == "admitted" and status.pass_token is not None
    await backend.hold(ROOM, "s1", status.pass_token)
    booking = await backend.confirm(ROOM, "s1", status.pass_token)
    return booking.code


def _personal(code: str) -> list[str]:
    return [IDENTITY, LABEL, code, code.replace("-", "")]


async def _wait_for_forget_entry(backend: Backend) -> pyqueue.AuditEntry:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        entries = [e for e in await backend.audit_log(ROOM) if e.action == "forget_personal_data"]
        if entries:
            return entries[-1]
        assert asyncio.get_running_loop().time() < deadline, "the retention task did not run"
        await asyncio.sleep(0.2)


async def test_the_retention_task_deletes_everything_personal_for_good(stored: Stored) -> None:
    assert stored.backend is not None
    backend, clock = stored.backend, stored.clock
    code = await _book(backend, clock)
    clock.advance(60)
    await backend.tick(ROOM)
    # The scan finds what is there: before the retention the label and the code are stored;
    # the identity never is, only its pseudonym, which still finds the ticket.
    found = " ".join(stored.found_in_storage(_personal(code)))
    assert LABEL in found and code in found and IDENTITY not in found, found
    for pseudonym in stored.pseudonyms(IDENTITY):
        assert stored.found_in_storage([pseudonym]), "the scan reads the identity index"
    again = await backend.join(ROOM, IDENTITY, None)
    assert not again.new
    # Closed, but the retention has not run out: nothing goes.
    clock.set(CLOSES_AT + timedelta(hours=RETAIN_HOURS) - timedelta(seconds=30))
    await backend.tick(ROOM)
    assert (await backend.booking(ROOM, code)).slot == "s1"

    clock.set(CLOSES_AT + timedelta(hours=RETAIN_HOURS, seconds=1))
    entry = await _wait_for_forget_entry(backend)
    assert (entry.actor, entry.count) == ("retention", 3)
    assert entry.reason == "personal data deleted: 1 identities, 1 labels, 1 booking codes"
    assert stored.found_in_storage([*_personal(code), *stored.pseudonyms(IDENTITY)]) == []
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.booking(ROOM, code)
    availability = await backend.availability(ROOM)
    assert sum(group.booked for group in availability) == 1  # the slot stays booked

    backend = await stored.restart()
    await backend.tick(ROOM)
    assert stored.found_in_storage(_personal(code)) == []
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.booking(ROOM, code)
    entries = [e for e in await backend.audit_log(ROOM) if e.action == "forget_personal_data"]
    assert len(entries) == 1  # the audit entry survives; no second deletion was needed


async def test_the_admin_call_forgets_a_closed_room_only(stored: Stored) -> None:
    assert stored.backend is not None
    backend, clock = stored.backend, stored.clock
    code = await _book(backend, clock)
    with pytest.raises(pyqueue.RoomNotClosed):
        await backend.forget_personal_data(ROOM, "anna")
    assert (await backend.booking(ROOM, code)).slot == "s1"

    clock.set(CLOSES_AT)
    forgotten = await backend.forget_personal_data(ROOM, "anna")
    assert forgotten == {"identities": 1, "labels": 1, "booking_codes": 1}
    entry = (await backend.audit_log(ROOM))[-1]
    assert (entry.action, entry.actor, entry.count) == ("forget_personal_data", "anna", 3)
    assert stored.found_in_storage(_personal(code)) == []
    # Asked again, it deletes nothing and says so.
    again = await backend.forget_personal_data(ROOM, "anna")
    assert again == {"identities": 0, "labels": 0, "booking_codes": 0}

    await stored.restart()
    assert stored.found_in_storage(_personal(code)) == []


async def test_a_cancelled_booking_is_forgotten_with_the_rest(stored: Stored) -> None:
    # A cancelled code keeps answering with its cancellation until the deletion; then it goes
    # like a live one, from the state and from storage, and a restart does not bring it back.
    assert stored.backend is not None
    backend, clock = stored.backend, stored.clock
    code = await _book(backend, clock)
    cancelled, now = await backend.cancel(ROOM, code)
    assert now and cancelled.cancelled_at is not None
    assert (await backend.booking(ROOM, code)).cancelled_at is not None
    clock.set(CLOSES_AT)
    forgotten = await backend.forget_personal_data(ROOM, "anna")
    assert forgotten == {"identities": 1, "labels": 1, "booking_codes": 1}
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.booking(ROOM, code)
    assert stored.found_in_storage(_personal(code)) == []
    backend = await stored.restart()
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.booking(ROOM, code)


async def test_the_retention_task_forgets_a_room_whose_only_personal_data_is_a_cancelled_code(
    stored: Stored,
) -> None:
    # Nobody gave an identity or a label, and the one booking was cancelled: its code is all
    # that is left of a person, and it goes when the retention runs out.
    assert stored.backend is not None
    backend, clock = stored.backend, stored.clock
    await backend.add_slots(ROOM, SLOTS, "test")
    await backend.tick(ROOM)
    clock.advance(10)
    ticket = await backend.join(ROOM, None, None)
    status = await backend.status(ROOM, ticket.token)
    assert status.pass_token is not None
    await backend.hold(ROOM, "s1", status.pass_token)
    code = (await backend.confirm(ROOM, "s1", status.pass_token)).code
    await backend.cancel(ROOM, code)
    clock.set(CLOSES_AT + timedelta(hours=RETAIN_HOURS, seconds=1))
    entry = await _wait_for_forget_entry(backend)
    assert entry.reason == "personal data deleted: 0 identities, 0 labels, 1 booking codes"
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.booking(ROOM, code)
    assert stored.found_in_storage([code, code.replace("-", "")]) == []


async def test_forget_over_http(aiohttp_client: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    table = room_table(ROOM, closes_at=CLOSES_AT.isoformat(), identity="required")
    api = await start_api(aiohttp_client, [table], start=OPENS_AT, data_dir=str(data_dir))
    await api.tick()
    await api.advance(10)
    await api.join(ROOM, identity=LABEL)  # over HTTP a required identity is the ticket's label
    actor = {**ADMIN, "X-Pyqueue-Actor": "dpo-berta"}
    _, body = await api.json("POST", f"/v1/admin/rooms/{ROOM}/forget", 409, headers=actor)
    assert body["error"]["code"] == "room_not_closed"
    _, body = await api.json("POST", "/v1/admin/rooms/nowhere/forget", 404, headers=actor)
    assert body["error"]["code"] == "unknown_room"
    await api.json("POST", f"/v1/admin/rooms/{ROOM}/forget", 401)
    assert _files_holding(data_dir, [LABEL])
    # An operator's retention beyond its range is refused by name.
    change = {"retain_personal_data_hours": 9000}
    _, body = await api.json("PATCH", f"/v1/admin/rooms/{ROOM}", 400, headers=actor, json=change)
    assert body["error"]["code"] == "invalid_config"
    assert "retain_personal_data_hours" in body["error"]["message"]
    change = {"retain_personal_data_hours": 48}
    _, body = await api.json("PATCH", f"/v1/admin/rooms/{ROOM}", 200, headers=actor, json=change)
    assert body["config"]["retain_personal_data_hours"] == 48

    api.clock.set(CLOSES_AT)
    _, body = await api.json("POST", f"/v1/admin/rooms/{ROOM}/forget", 200, headers=actor)
    assert body == {"room": ROOM, "forgotten": {"identities": 0, "labels": 1, "booking_codes": 0}}
    _, audit = await api.json("GET", f"/v1/admin/rooms/{ROOM}/audit", 200, headers=ADMIN)
    last = audit["entries"][-1]
    assert (last["action"], last["actor"], last["count"]) == (
        "forget_personal_data",
        "dpo-berta",
        1,
    )
    assert _files_holding(data_dir, [LABEL]) == []


def test_the_retention_setting_is_checked_by_name() -> None:
    for bad in (-1, 8761, 1.5, "24"):
        with pytest.raises(pyqueue.InvalidConfig, match="retain_personal_data_hours"):
            pyqueue.RoomConfig(ROOM, OPENS_AT, retain_personal_data_hours=bad)
    config = pyqueue.RoomConfig(ROOM, OPENS_AT, closes_at=CLOSES_AT, retain_personal_data_hours=0)
    assert config.personal_data_due_at() == CLOSES_AT
    late = CLOSES_AT + timedelta(days=3)
    assert config.personal_data_due_at(late) == late
    assert pyqueue.RoomConfig(ROOM, OPENS_AT).personal_data_due_at() is None
    saved = config.saved_settings()
    assert pyqueue.RoomConfig.saved(saved).retain_personal_data_hours == 0
    del saved["retain_personal_data_hours"]  # saved before the setting existed: the default
    assert pyqueue.RoomConfig.saved(saved).retain_personal_data_hours == 168


def test_access_log_lines_hold_no_client_address_and_no_booking_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = "ABCDE-FGHJK"
    peer = mock.Mock()
    peer.get_extra_info.return_value = ("203.0.113.9", 50000)
    request = make_mocked_request(
        "POST",
        f"/v1/rooms/kiel/bookings/{code}/cancel",
        match_info={"room": "kiel", "code": code},
        transport=peer,
    )
    assert request.remote == "203.0.113.9"
    logger = logging.getLogger("pyqueue.access")
    with caplog.at_level(logging.INFO, logger="pyqueue.access"):
        JsonAccessLogger(logger, "").log(request, web.Response(status=200), 0.002)
    line = JsonFormatter().format(caplog.records[-1])
    assert "203.0.113.9" not in line and "remote" not in line
    assert code not in line
    assert '"path":"/v1/rooms/kiel/bookings/…/cancel"' in line


@pytest.mark.redis
async def test_a_redis_room_created_before_identities_were_hashed_keeps_working(
    redis_url: str,  # noqa: F811 - the fixture
) -> None:
    flush(redis_url)
    clock = pyqueue.VirtualClock(OPENS_AT + timedelta(seconds=10))
    config = pyqueue.RoomConfig(ROOM, OPENS_AT, seed=2021)
    signer = pyqueue.Signer(SIGNER_KEYS)
    backend = RedisBackend(redis_url, signer, clock, refresh_seconds=0.0, configured=[(config, [])])
    await backend.start()
    try:
        with redis.Redis.from_url(redis_url) as client:
            client.delete(RoomKeys(ROOM).identity_key)  # as an earlier version created it
        first = await backend.join(ROOM, IDENTITY, None)
        again = await backend.join(ROOM, IDENTITY, None)
        assert (again.id, again.new) == (first.id, False)
        assert _redis_holding(redis_url, [IDENTITY])  # kept as given, until it is forgotten
    finally:
        await backend.close()


async def test_files_left_by_a_stop_between_deletion_and_cleanup_go_at_the_next_start(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    settings = _settings(data_dir)
    clock = pyqueue.VirtualClock(OPENS_AT)
    backend = MemoryBackend.from_settings(settings, clock)
    await backend.start()
    code = await _book(backend, clock)
    clock.set(CLOSES_AT + timedelta(hours=RETAIN_HOURS, seconds=1))
    # The deletion is saved, then the process dies before the earlier files are deleted (no
    # snapshot at a stop: the files as a kill -9 leaves them).
    backend._rooms[ROOM].forget_personal_data(actor="test")
    await backend._persist(ROOM, must_sync=True)
    await backend._background.stop()
    assert backend._store is not None
    backend._store.release()
    assert _files_holding(data_dir, [LABEL])

    backend = MemoryBackend.from_settings(settings, clock)
    await backend.start()
    try:
        deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
        while _files_holding(data_dir, _personal(code)):
            assert asyncio.get_running_loop().time() < deadline, "the earlier files stayed"
            await asyncio.sleep(0.2)
    finally:
        await backend.close()
