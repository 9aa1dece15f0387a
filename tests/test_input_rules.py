"""Operator and client input has documented ranges and character sets, refused by name.

The rules live in the core (``pyqueue.input_rules()``); these tests hold every path to them:
the Python API, the config file, the admin API (JSON and CSV) on the memory and the Redis
backend, the visitor's identity, and the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import pyqueue
from pyqueue.cli import main
from pyqueue.config import SERVER_RANGES, ConfigError, settings_from_mapping
from pyqueue.server.openapi import openapi_document
from tests.helpers.api import ADMIN, OPENS_AT, START, Api, start_api
from tests.redis_fixtures import new_backend, redis_url  # noqa: F401 - the fixture is used by name

RULES = pyqueue.input_rules()
INT_SETTINGS = [
    "max_active",
    "session_seconds",
    "heartbeat_timeout_seconds",
    "hold_seconds",
    "offer_seconds",
    "max_bookings_per_identity",
]
SLOT_STARTS = (OPENS_AT + timedelta(days=2)).isoformat()

#: The examples of the issue: each setting, the value the admin API used to accept, and the
#: message it is refused with now.
ISSUE_EXAMPLES: list[tuple[str, Any, str]] = [
    (
        "admit_per_minute",
        1e308,
        "admit_per_minute must be above 0 and at most 1000000, got 1e308",
    ),
    ("offer_seconds", 2**31, "offer_seconds must be between 1 and 86400, got 2147483648"),
    (
        "opens_at",
        "0001-01-01T00:00:00Z",
        "opens_at must be between 2000-01-01T00:00:00Z and 2200-01-01T00:00:00Z, "
        "got 0001-01-01T00:00:00Z",
    ),
]
#: Slots with a NUL, and the start of the message each is refused with.
NUL_SLOTS: list[tuple[dict[str, str], str]] = [
    ({"id": "s\x001", "group": "Kiel", "starts_at": SLOT_STARTS}, 'slot id "s\\01" must be'),
    ({"id": "s1", "group": "Kiel\x00", "starts_at": SLOT_STARTS}, 'slot "s1": group "Kiel\\0"'),
]


def settings(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"opens_at": OPENS_AT.isoformat(), "seed": 7}
    values.update(overrides)
    return values


# ----- the Python API ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value", "message"), ISSUE_EXAMPLES)
def test_the_python_api_refuses_the_examples_by_name(name: str, value: Any, message: str) -> None:
    args: dict[str, Any] = {"opens_at": OPENS_AT, name: value}
    with pytest.raises(pyqueue.InvalidConfig) as refused:
        pyqueue.RoomConfig("kiel", **args)
    assert str(refused.value) == f"invalid room configuration: {message}"
    assert refused.value.code == "invalid_config"


@pytest.mark.parametrize(("slot", "message"), NUL_SLOTS)
def test_the_python_api_refuses_a_nul_in_a_slot(slot: dict[str, str], message: str) -> None:
    room = pyqueue.Room(
        pyqueue.RoomConfig("kiel", OPENS_AT, seed=7),
        pyqueue.Signer({"k1": "a-test-secret-of-32-bytes-length!"}),
        clock=pyqueue.VirtualClock(START),
    )
    fine = {"id": "fine", "group": "Kiel", "starts_at": SLOT_STARTS}
    with pytest.raises(pyqueue.InvalidArgument, match="^invalid argument: " + message[:8]) as e:
        room.add_slots([fine, slot])
    assert message in str(e.value)
    assert room.availability() == [], "nothing of a refused batch is loaded"


def _boundaries() -> list[tuple[str, Any, bool]]:
    """(setting, value, accepted) at both ends of every numeric rule, read from the core."""
    cases: list[tuple[str, Any, bool]] = []
    for name in INT_SETTINGS:
        low, high = RULES[name].minimum, RULES[name].maximum
        assert isinstance(low, int) and isinstance(high, int)
        cases += [(name, low, True), (name, high, True), (name, low - 1, False)]
        cases += [(name, high + 1, False), (name, 2**31, False), (name, 2**70, False)]
    cases += [
        ("admit_per_minute", 1_000_000, True),
        ("admit_per_minute", 0.001, True),
        ("admit_per_minute", 1_000_000.5, False),
        ("admit_per_minute", 0, False),
        ("admit_per_minute", float("nan"), False),
        ("admit_per_minute", float("inf"), False),
        ("seed", 0, True),
        ("seed", 2**64 - 1, True),
        ("seed", -1, False),
        ("seed", 2**64, False),
        ("release_windows", ["07:00"] * 100, True),
        ("release_windows", ["07:00"] * 101, False),
        ("handoff_url", "https://book.example/" + "x" * 2027, True),
        ("handoff_url", "https://book.example/" + "x" * 2028, False),
        ("handoff_url", "https://book.example/\n", False),
    ]
    for name in ("opens_at", "closes_at", "prequeue_opens_at"):
        cases += [
            (name, "1999-12-31T23:59:59.999999Z", False),
            (name, "2200-01-01T00:00:00.000001Z", False),
        ]
    return cases


@pytest.mark.parametrize(("name", "value", "accepted"), _boundaries())
def test_every_setting_is_accepted_within_and_refused_outside_its_range(
    name: str, value: Any, accepted: bool
) -> None:
    args: dict[str, Any] = {"opens_at": datetime(2100, 1, 1, tzinfo=UTC), name: value}
    if name == "prequeue_opens_at":
        # Not after opens_at: only the window's lower end can be tested at either side.
        args["opens_at"] = "2200-01-01T00:00:00Z"
    if name == "closes_at" and "1999" in str(value):
        args["opens_at"] = "2000-01-01T00:00:00Z"
    if accepted:
        config = pyqueue.RoomConfig("kiel", **args)
        assert getattr(config, name) == value
        return
    with pytest.raises(pyqueue.InvalidConfig) as refused:
        pyqueue.RoomConfig("kiel", **args)
    message = str(refused.value)
    assert f": {name}" in message, message
    if name in INT_SETTINGS:
        rule = RULES[name]
        assert f"between {rule.minimum} and {rule.maximum}, got {value}" in message


def test_the_time_window_is_inclusive() -> None:
    config = pyqueue.RoomConfig(
        "kiel",
        "2000-01-01T00:00:00Z",
        prequeue_opens_at="2000-01-01T00:00:00Z",
        closes_at="2200-01-01T00:00:00Z",
    )
    assert config.closes_at == datetime(2200, 1, 1, tzinfo=UTC)
    assert RULES["opens_at"].minimum == "2000-01-01T00:00:00Z"
    assert RULES["starts_at"].maximum == "2200-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("slot_id", "group", "accepted"),
    [
        ("x" * 128, "g" * 128, True),
        ("€" * 42, "Zentrum Süd · 08:00", True),
        ("x" * 129, "Kiel", False),
        ("€" * 43, "Kiel", False),
        ("s1", "g" * 129, False),
        ("", "Kiel", False),
        ("s1", "", False),
        ("a\nb", "Kiel", False),
        ("s1", "Kiel\t1", False),
        ("s1\u202e", "Kiel", False),
        (" s1", "Kiel", False),
    ],
)
def test_slot_ids_and_groups_have_a_length_and_character_set(
    slot_id: str, group: str, accepted: bool
) -> None:
    slot = (slot_id, group, SLOT_STARTS)
    if accepted:
        assert pyqueue._core.check_slots([slot])[0][:2] == (slot_id, group)
    else:
        with pytest.raises(pyqueue.InvalidArgument, match="must be 1 to 128 bytes of printable"):
            pyqueue._core.check_slots([slot])


def test_slot_starts_lie_in_the_window() -> None:
    with pytest.raises(pyqueue.InvalidArgument, match='slot "s1": starts_at must be between'):
        pyqueue._core.check_slots([("s1", "Kiel", "0001-01-01T00:00:00Z")])


def test_identities_are_printable_and_not_echoed() -> None:
    room = pyqueue.Room(
        pyqueue.RoomConfig("kiel", OPENS_AT, seed=7),
        pyqueue.Signer({"k1": "a-test-secret-of-32-bytes-length!"}),
        clock=pyqueue.VirtualClock(START),
    )
    for bad in ("secret\x00", "secret\n", "x" * 257):
        with pytest.raises(pyqueue.InvalidArgument) as refused:
            room.join(identity=bad)
        assert "identity must be 1 to 256 bytes of printable" in str(refused.value)
        assert "secret" not in str(refused.value)
    assert room.join(identity="x" * 256).new


# ----- the config file ----------------------------------------------------------------------


def load(rooms: list[dict[str, Any]], **server: Any) -> None:
    settings_from_mapping(
        {
            "server": {"secrets": {"k1": "a-test-secret-of-32-bytes-length!"}, **server},
            "rooms": rooms,
        },
        base_dir=Path.cwd(),
        env={},
    )


@pytest.mark.parametrize(("name", "value", "message"), ISSUE_EXAMPLES)
def test_the_config_file_refuses_the_examples_by_name(name: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load([{"id": "kiel", **settings(**{name: value})}])
    assert str(refused.value) == f"room 'kiel': {message}"


@pytest.mark.parametrize(("slot", "message"), NUL_SLOTS)
def test_the_config_file_refuses_a_nul_in_a_slot(slot: dict[str, str], message: str) -> None:
    # Refused when the file is read (so `pyqueue check-config` says it), not at serving.
    with pytest.raises(ConfigError) as refused:
        load([{"id": "kiel", **settings(), "slots": [slot]}])
    assert str(refused.value).startswith("room 'kiel': invalid argument: ")
    assert message in str(refused.value)


def test_check_config_names_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pyqueue.toml"
    config.write_text(
        '[server]\nsecrets = { k1 = "a-test-secret-of-32-bytes-length!" }\n'
        '[[rooms]]\nid = "kiel"\nopens_at = 2021-05-10T07:00:00+02:00\n'
        "offer_seconds = 2147483648\n",
        encoding="utf-8",
    )
    assert main(["check-config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "pyqueue: room 'kiel': offer_seconds must be between 1 and 86400, got 2147483648\n"
    )


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("max_body_bytes", 1024 * 1024, True),
        ("max_body_bytes", 1024 * 1024 + 1, False),
        ("max_header_bytes", 1023, False),
        ("join_rate_per_minute", 1e308, False),
        ("join_rate_burst", 2**40, False),
        ("keepalive_seconds", 3600, True),
        ("keepalive_seconds", 3601, False),
        ("body_timeout_seconds", 0, False),
        ("tick_interval_seconds", 11, False),
        ("tick_interval_seconds", 1e-9, False),
        ("tick_interval_seconds", 0.01, True),
        ("fsync_interval_ms", 60_001, False),
        ("snapshot_interval_seconds", 0, True),
        ("snapshot_journal_bytes", 2**63, False),
    ],
)
def test_server_settings_have_ranges(name: str, value: Any, accepted: bool) -> None:
    if accepted:
        load([], **{name: value})
        return
    with pytest.raises(ConfigError) as refused:
        load([], **{name: value})
    assert str(refused.value).startswith(f"server.{name} must be ")
    assert SERVER_RANGES[name].describe().split(",")[0].split()[-1] in str(refused.value)


# ----- the admin API, on both backends --------------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def api(request: pytest.FixtureRequest, aiohttp_client: Any) -> AsyncIterator[Api]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    # The application starts the backend it serves, and closes it.
    backend = new_backend(request.param, pyqueue.VirtualClock(START), url)
    api = await start_api(aiohttp_client, [], backend=backend)
    await api.json("PUT", "/v1/admin/rooms/kiel", 201, headers=ADMIN, json=settings())
    yield api


@pytest.mark.parametrize(("name", "value", "message"), ISSUE_EXAMPLES)
async def test_the_admin_api_refuses_the_examples_by_name(
    api: Api, name: str, value: Any, message: str
) -> None:
    for method, path, body in [
        ("PUT", "/v1/admin/rooms/husum", settings(**{name: value})),
        ("PUT", "/v1/admin/rooms/kiel", settings(**{name: value})),
        ("PATCH", "/v1/admin/rooms/kiel", {name: value}),
    ]:
        _, answer = await api.json(method, path, 400, headers=ADMIN, json=body)
        assert answer["error"]["code"] == "invalid_config"
        assert answer["error"]["message"].endswith(message), answer
    assert await api.backend.room_ids() == ["kiel"]
    config = await api.backend.room_config("kiel")
    assert config.offer_seconds == 600 and config.admit_per_minute == 600


@pytest.mark.parametrize(("slot", "message"), NUL_SLOTS)
async def test_the_admin_api_refuses_a_nul_in_a_slot_as_json(
    api: Api, slot: dict[str, str], message: str
) -> None:
    fine = {"id": "fine", "group": "Kiel", "starts_at": SLOT_STARTS}
    _, answer = await api.json(
        "POST", "/v1/admin/rooms/kiel/slots", 400, headers=ADMIN, json={"slots": [fine, slot]}
    )
    assert answer["error"]["code"] == "invalid_argument"
    assert message in answer["error"]["message"], answer
    assert await api.backend.availability("kiel") == []


@pytest.mark.parametrize(("slot", "message"), NUL_SLOTS)
async def test_the_admin_api_refuses_a_nul_in_a_slot_as_csv(
    api: Api, slot: dict[str, str], message: str
) -> None:
    csv = (
        f"id,group,starts_at\nfine,Kiel,{SLOT_STARTS}\n{slot['id']},{slot['group']},{SLOT_STARTS}\n"
    )
    _, answer = await api.json(
        "POST",
        "/v1/admin/rooms/kiel/slots",
        400,
        headers={**ADMIN, "Content-Type": "text/csv"},
        data=csv.encode(),
    )
    assert answer["error"]["code"] == "invalid_argument"
    assert message in answer["error"]["message"], answer
    assert await api.backend.availability("kiel") == []


async def test_both_backends_refuse_a_bad_identity_alike(api: Api) -> None:
    await api.open()
    for bad in ("secret\x00", "x" * 257):
        _, answer = await api.json("POST", "/v1/rooms/kiel/join", 400, json={"identity": bad})
        assert answer["error"]["code"] == "invalid_argument"
        message = answer["error"]["message"]
        assert "identity must be 1 to 256" in message or "identity may have at most 256" in message
        assert "secret" not in message


# ----- the OpenAPI document -------------------------------------------------------------------


def test_the_openapi_document_shows_the_cores_ranges() -> None:
    schemas = openapi_document()["components"]["schemas"]
    room = schemas["RoomSettings"]["properties"]
    assert room["admit_per_minute"]["exclusiveMinimum"] == 0
    assert room["admit_per_minute"]["maximum"] == RULES["admit_per_minute"].maximum
    for name in INT_SETTINGS:
        assert (room[name]["minimum"], room[name]["maximum"]) == (
            RULES[name].minimum,
            RULES[name].maximum,
        )
    assert room["release_windows"]["maxItems"] == 100
    assert room["id"]["pattern"] == RULES["room_id"].pattern == "^[A-Za-z0-9_-]{1,64}$"
    assert "2000-01-01T00:00:00Z" in room["opens_at"]["description"]
    slot = schemas["SlotInput"]["properties"]
    assert slot["id"]["maxLength"] == 128 and slot["group"]["pattern"] == RULES["group"].pattern
    identity = schemas["JoinRequest"]["properties"]["identity"]
    assert identity["maxLength"] == RULES["identity"].max_bytes == 256


def test_the_patterns_say_what_the_core_does() -> None:
    import re

    samples = ["s1", "a\x00b", "a\nb", " a", "a ", "Zentrum Süd", "a\u2028b", "\ufeffa", "x" * 64]
    for name in ("slot_id", "group", "room_id", "key_id"):
        pattern = re.compile(RULES[name].pattern or "")
        for text in samples:
            try:
                if name in ("slot_id", "group"):
                    pyqueue._core.check_slots(
                        [
                            (text, "g", SLOT_STARTS)
                            if name == "slot_id"
                            else ("s", text, SLOT_STARTS)
                        ]
                    )
                else:
                    assert name != "room_id" or pyqueue.RoomConfig(text, OPENS_AT)
                    assert name != "key_id" or pyqueue.Signer({text: "x" * 16})
                core_accepts = True
            except (pyqueue.InvalidArgument, pyqueue.InvalidConfig):
                core_accepts = False
            assert (pattern.fullmatch(text) is not None) == core_accepts, (name, text)


def test_the_readme_shows_every_rule_as_the_core_says_it() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    for name, rule in RULES.items():
        row = next(r for r in rows if r.startswith(f"| `{name}`"))
        assert f"| {rule.text}" in row, row
    for name, limits in SERVER_RANGES.items():
        assert f"| `{name}` | {limits.describe()} |" in readme, name


# ----- handoff paths, audit actors and reasons, timezones -----------------------------------


@pytest.mark.parametrize("url", ["//evil.example/x", "/\\evil.example/x", "//"])
def test_a_handoff_path_cannot_name_another_host(url: str) -> None:
    with pytest.raises(pyqueue.InvalidConfig, match="a path on this site"):
        pyqueue.RoomConfig("kiel", OPENS_AT, handoff_url=url)
    assert pyqueue.RoomConfig("kiel", OPENS_AT, handoff_url="/book//start").handoff_url


def _room() -> pyqueue.Room:
    return pyqueue.Room(
        pyqueue.RoomConfig("kiel", OPENS_AT, seed=7),
        pyqueue.Signer({"k1": "a-test-secret-of-32-bytes-length!"}),
        clock=pyqueue.VirtualClock(START),
    )


@pytest.mark.parametrize("actor", ["ops\x00", "ops\nrelease by admin", "", " ops", "o" * 65])
def test_the_core_refuses_a_bad_actor_in_every_audited_change(actor: str) -> None:
    room = _room()
    slot = {"id": "s1", "group": "Kiel", "starts_at": SLOT_STARTS}
    changes = [
        lambda: room.pause(actor),
        lambda: room.resume(actor),
        lambda: room.queue_all(True, actor),
        lambda: room.update(pyqueue.RoomConfig("kiel", OPENS_AT, seed=7), actor),
        lambda: room.add_slots([slot], actor),
        lambda: room.release(True, "storm", actor),
        lambda: room.record_repair(3, "journal damaged", actor),
    ]
    for change in changes:
        with pytest.raises(pyqueue.InvalidArgument, match=r"^invalid argument: actor"):
            change()
    assert room.audit_log() == [] and room.availability() == []
    assert not room.info().queue_all


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("storm\x00", '"storm\\0"'),
        ("storm\nrelease_override by anna", '"storm\\nrelease_override by anna"'),
        ("r" * 2001, "…"),
    ],
)
def test_the_core_refuses_a_bad_reason(reason: str, shown: str) -> None:
    room = _room()
    for change in (
        lambda: room.release(True, reason, "ops"),
        lambda: room.record_repair(3, reason, "ops"),
    ):
        with pytest.raises(pyqueue.InvalidArgument, match=r"^invalid argument: reason") as refused:
            change()
        assert shown in str(refused.value) and len(str(refused.value)) < 300
    assert room.audit_log() == []
    room.record_repair(3, "r" * 2000, "ops")
    assert room.audit_log()[0].reason == "r" * 2000


def test_a_long_repair_reason_is_cut_to_the_rule() -> None:
    from pyqueue.journal_command import audit_reason

    codes = ", ".join(f"{i:05d}-ABCDE" for i in range(1000))
    reason = audit_reason(f"journal-00000001.pqj damaged: booking codes dropped: {codes}")
    assert len(reason.encode()) <= RULES["reason"].max_bytes  # type: ignore[operator]
    assert reason.endswith("printed the whole list)")
    _room().record_repair(1000, reason, "pyqueue journal repair")
    assert audit_reason("short") == "short"


async def test_the_admin_api_and_both_backends_refuse_a_bad_actor_or_reason(api: Api) -> None:
    _, answer = await api.json(
        "POST",
        "/v1/admin/rooms/kiel/release",
        400,
        headers=ADMIN,
        json={"override": True, "reason": "storm\nrelease_override by anna"},
    )
    assert answer["error"]["code"] == "invalid_argument"
    assert answer["error"]["message"].startswith("invalid argument: reason"), answer
    _, answer = await api.json(
        "POST", "/v1/admin/rooms/kiel/pause", 400, headers={**ADMIN, "X-Pyqueue-Actor": "a\u202eb"}
    )
    assert answer["error"]["message"].startswith("X-Pyqueue-Actor: invalid argument: actor")
    for change in (
        api.backend.pause("kiel", "ops\x00"),
        api.backend.queue_all("kiel", True, "ops\n"),
        api.backend.release("kiel", True, "storm\x00", "ops"),
        api.backend.add_slots("kiel", [], "\x00"),
    ):
        with pytest.raises(pyqueue.InvalidArgument):
            await change
    assert [e.action for e in await api.backend.audit_log("kiel")] == []


def test_a_long_timezone_is_refused_by_its_length_without_repeating_it() -> None:
    with pytest.raises(pyqueue.InvalidConfig) as refused:
        pyqueue.RoomConfig("kiel", OPENS_AT, timezone="Europe/" * 100_000)
    message = str(refused.value)
    assert "timezone" in message and "1 to 64 bytes" in message and len(message) < 400, message
    with pytest.raises(pyqueue.InvalidConfig, match="unknown timezone") as refused:
        pyqueue.RoomConfig("kiel", OPENS_AT, timezone="Europe/Berlin" * 4)
    assert "…" in str(refused.value) and len(str(refused.value)) < 250
