"""The core's value classes are built by keyword, check what they are given, and take exactly the
fields they show: a backend that keeps its state elsewhere returns these same classes."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import pyqueue

AT = datetime(2021, 5, 10, 5, 0, 0, 123456, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)
COUNTERS = {"joined": 5, "admitted": 3, "abandoned": 1, "left": 0, "completed": 1, "expired": 0}

#: For each class, every constructor argument with a value different from its default.
VALUES: dict[type, dict[str, Any]] = {
    pyqueue.Ticket: {"id": 7, "token": "k1.x.y", "state": "waiting", "new": True},
    pyqueue.PassInfo: {
        "room": "kiel",
        "ticket": 7,
        "issued_at": AT,
        "expires_at": LATER,
        "sub": "anna",
    },
    pyqueue.Hold: {"slot": "s1", "group": "Kiel", "starts_at": AT, "ticket": 7, "until": LATER},
    pyqueue.Booking: {
        "code": "7K3QD-X9M2A",
        "slot": "s1",
        "group": "Kiel",
        "starts_at": AT,
        "ticket": 7,
        "cancelled_at": LATER,
    },
    pyqueue.SlotInfo: {
        "id": "s1",
        "group": "Kiel",
        "starts_at": AT,
        "state": "held",
        "until": LATER,
    },
    pyqueue.GroupAvailability: {
        "group": "Kiel",
        "free": 1,
        "held": 2,
        "offered": 3,
        "booked": 4,
        "returned": 5,
    },
    pyqueue.AuditEntry: {
        "at": AT,
        "action": "release_override",
        "actor": "anna",
        "count": 2,
        "reason": "centre asked",
    },
    pyqueue.TickReport: {
        "admitted": 1,
        "abandoned": 2,
        "expired": 3,
        "released": 4,
        "holds_expired": 5,
        "offers_made": 6,
    },
    pyqueue.Eta: {
        "low": 5.0,
        "seconds": 10.0,
        "high": 15.0,
        "known": True,
        "reason": "capacity",
        "admit_per_second": 5.0,
    },
    pyqueue.Offer: {"slot": "s1", "until": LATER},
    pyqueue.Draw: {
        "seed": 2021,
        "at": AT,
        "mode": "fifo",
        "joined": [3, 1, 2],
        "order": [3, 1, 2],
    },
}
VALUES[pyqueue.RoomInfo] = {
    "state": "sold_out",
    "opens_in_seconds": 0.0,
    "waiting": 12,
    "active": 3,
    "admit_per_minute": 600.0,
    "measured_per_minute": 540.5,
    "queue_all": True,
    "counters": COUNTERS,
    "availability": [pyqueue.GroupAvailability(**VALUES[pyqueue.GroupAvailability])],
    "next_release_window": LATER,
}

VALUES[pyqueue.Status] = {
    "ticket": 7,
    "state": "admitted",
    "at": AT,
    "eta": pyqueue.Eta(**VALUES[pyqueue.Eta]),
    "ahead": 3,
    "ahead_at_start": 9,
    "opens_in_seconds": 60.0,
    "pass_token": "k1.x.y",
    "pass_expires_at": LATER,
    "offer": pyqueue.Offer(**VALUES[pyqueue.Offer]),
    "paused": True,
}

#: Read-only conveniences computed from other fields.
DERIVED = {
    pyqueue.Hold: {"until_timestamp"},
    pyqueue.Offer: {"until_timestamp"},
    pyqueue.Status: {"pass_expires_in_seconds"},
    pyqueue.Booking: {"state"},
}


def fields(value: object) -> dict[str, Any]:
    """What a value shows, with nested values by their fields."""
    shown = {}
    for name in dir(type(value)):
        if name.startswith("_") or name in DERIVED.get(type(value), set()):
            continue
        item = getattr(value, name)
        if isinstance(item, list):
            item = [fields(i) if type(i) in VALUES else i for i in item]
        shown[name] = item
    return shown


@pytest.mark.parametrize("cls", list(VALUES), ids=lambda c: c.__name__)
def test_a_value_shows_exactly_what_it_was_built_from(cls: type) -> None:
    given = VALUES[cls]
    value = cls(**given)
    expected = {
        name: [fields(i) for i in item] if name == "availability" else item
        for name, item in given.items()
    }
    assert fields(value) == expected


@pytest.mark.parametrize("cls", list(VALUES), ids=lambda c: c.__name__)
def test_constructors_take_keywords_only(cls: type) -> None:
    parameters = inspect.signature(cls).parameters.values()
    assert {p.kind for p in parameters} == {inspect.Parameter.KEYWORD_ONLY}
    with pytest.raises(TypeError):
        cls(*VALUES[cls].values())


def test_times_are_taken_as_utc_and_as_rfc_3339() -> None:
    berlin = timezone(timedelta(hours=2))
    hold = pyqueue.Hold(
        slot="s1",
        group="Kiel",
        starts_at=AT.astimezone(berlin),
        ticket=7,
        until="2021-05-10T07:05:00.123456+02:00",
    )
    assert hold.starts_at == AT and hold.starts_at.utcoffset() == timedelta(0)
    assert hold.until == LATER and hold.until_timestamp == LATER.timestamp()
    info = pyqueue.PassInfo(
        room="kiel", ticket=1, issued_at=AT.astimezone(berlin), expires_at=LATER
    )
    assert info.issued_at.utcoffset() == timedelta(0) and info.sub is None


def test_defaults_are_the_empty_values() -> None:
    assert fields(pyqueue.TickReport()) == dict.fromkeys(VALUES[pyqueue.TickReport], 0)
    group = pyqueue.GroupAvailability(group="Kiel")
    assert (group.free, group.held, group.offered, group.booked, group.returned) == (0,) * 5
    slot = pyqueue.SlotInfo(id="s1", group="Kiel", starts_at=AT, state="free")
    assert slot.until is None
    room = dict(VALUES[pyqueue.RoomInfo])
    del room["availability"], room["next_release_window"]
    info = pyqueue.RoomInfo(**room)
    assert info.availability == [] and info.next_release_window is None


@pytest.mark.parametrize(
    ("cls", "change", "named"),
    [
        (pyqueue.Ticket, {"state": "queued"}, "Ticket.state"),
        (pyqueue.SlotInfo, {"state": "taken"}, "SlotInfo.state"),
        (pyqueue.RoomInfo, {"state": "busy"}, "RoomInfo.state"),
        (pyqueue.Status, {"state": "queued"}, "Status.state"),
        (pyqueue.Status, {"at": datetime(2021, 5, 10, 5, 0)}, "Status.at"),
        (pyqueue.Status, {"pass_expires_at": "soon"}, "Status.pass_expires_at"),
        (pyqueue.Status, {"opens_in_seconds": float("nan")}, "Status.opens_in_seconds"),
        (pyqueue.Eta, {"high": -1.0}, "Eta.high"),
        (pyqueue.Eta, {"seconds": float("inf")}, "Eta.seconds"),
        (pyqueue.Eta, {"reason": "weather"}, "Eta.reason"),
        (pyqueue.Eta, {"admit_per_second": -1.0}, "Eta.admit_per_second"),
        (pyqueue.Offer, {"until": "tomorrow"}, "Offer.until"),
        (pyqueue.Draw, {"mode": "random"}, "Draw.mode"),
        (pyqueue.Hold, {"until": datetime(2021, 5, 10, 5, 5)}, "Hold.until"),
        (pyqueue.AuditEntry, {"at": "yesterday"}, "AuditEntry.at"),
        (pyqueue.PassInfo, {"expires_at": 1620623100}, "PassInfo.expires_at"),
        (pyqueue.RoomInfo, {"counters": {**COUNTERS, "queued": 1}}, "queued"),
        (pyqueue.RoomInfo, {"counters": {"joined": 5}}, "RoomInfo.counters"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_field(
    cls: type, change: dict[str, Any], named: str
) -> None:
    with pytest.raises(pyqueue.InvalidArgument, match=named):
        cls(**{**VALUES[cls], **change})


def test_counts_and_ids_are_never_negative() -> None:
    with pytest.raises(OverflowError):
        pyqueue.GroupAvailability(group="Kiel", free=-1)
    with pytest.raises(OverflowError):
        pyqueue.Ticket(**{**VALUES[pyqueue.Ticket], "id": -1})


@pytest.mark.parametrize(
    "cls", [c for c in VALUES if c is not pyqueue.PassInfo], ids=lambda c: c.__name__
)
def test_values_compare_by_what_they_show(cls: type) -> None:
    given = VALUES[cls]
    assert cls(**given) == cls(**given)
    for name, value in given.items():
        if isinstance(value, datetime):
            changed: Any = value + timedelta(microseconds=1)
        elif isinstance(value, bool):
            changed = not value
        elif isinstance(value, int | float):
            changed = value + 1
        else:
            continue  # states and lists: their other values are checked above
        assert cls(**given) != cls(**{**given, name: changed}), name


def test_a_status_counts_its_pass_from_its_own_moment() -> None:
    status = pyqueue.Status(**VALUES[pyqueue.Status])
    assert status.pass_expires_in_seconds == 300.0
    assert status.offer is not None and status.offer.until_timestamp == LATER.timestamp()
    ended = pyqueue.Status(**{**VALUES[pyqueue.Status], "at": LATER + timedelta(seconds=1)})
    assert ended.pass_expires_in_seconds == 0.0


def test_a_status_defaults_to_no_place_pass_or_offer() -> None:
    status = pyqueue.Status(ticket=7, state="left", at=AT, eta=pyqueue.Eta(**VALUES[pyqueue.Eta]))
    assert (status.ahead, status.ahead_at_start, status.pass_token, status.offer) == (None,) * 4
    assert status.pass_expires_at is None and status.pass_expires_in_seconds == 0.0
    assert status.opens_in_seconds == 0.0 and not status.paused
