"""Slots through the Python API: atomic holds, bookings, release windows, waiting-list offers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import pyqueue

SECRET = "a-test-secret-of-32-bytes-length!"
BERLIN = ZoneInfo("Europe/Berlin")
KIEL_WINDOWS = ["Mon-Fri 07:00", "Mon-Fri 17:00"]


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def slots(n: int, group: str = "Kiel 2021-05-12") -> list[dict[str, object]]:
    start = berlin(2021, 5, 12, 8, 0)
    return [
        {"id": f"{group}/{i:03d}", "group": group, "starts_at": start + timedelta(minutes=5 * i)}
        for i in range(n)
    ]


class Portal:
    """A room opened at `opens_at` on a virtual clock, with helpers to admit visitors."""

    def __init__(self, opens_at: datetime, **settings: object) -> None:
        self.clock = pyqueue.VirtualClock(opens_at - timedelta(minutes=10))
        config = pyqueue.RoomConfig(
            "kiel",
            opens_at,
            seed=1,
            timezone="Europe/Berlin",
            **settings,  # type: ignore[arg-type]
        )
        self.room = pyqueue.Room(config, pyqueue.Signer({"k1": SECRET}), self.clock)
        self.clock.set(opens_at + timedelta(seconds=1))
        self.room.tick()

    def admitted(self, identity: str | None = None) -> str:
        ticket = self.room.join(identity=identity)
        self.room.tick()
        pass_token = self.room.status(ticket.token).pass_token
        assert pass_token is not None, "expected to be let in at once"
        return pass_token


@pytest.fixture
def portal() -> Portal:
    portal = Portal(berlin(2021, 5, 10, 6, 0), release_windows=KIEL_WINDOWS, max_active=1000)
    portal.room.add_slots(slots(20))
    return portal


def test_hold_confirm_cancel(portal: Portal) -> None:
    room = portal.room
    pass_token = portal.admitted()
    hold = room.hold("Kiel 2021-05-12/000", pass_token)
    assert hold.until - room.now() == timedelta(seconds=300)
    assert room.slot(hold.slot).state == "held"
    booking = room.confirm(hold)
    assert len(booking.code) == 11 and booking.code[5] == "-"
    assert room.booking(booking.code.lower()).slot == hold.slot
    assert room.slot(hold.slot).state == "booked"
    assert booking.state == "booked" and booking.cancelled_at is None
    cancelled, cancelled_now = room.cancel(booking.code)
    assert cancelled_now
    assert (cancelled.slot, cancelled.state, cancelled.cancelled_at) == (
        hold.slot,
        "cancelled",
        room.now(),
    )
    assert room.slot(hold.slot).state == "returned"
    # The code keeps answering with the cancelled booking; cancelling again changes nothing.
    assert room.cancel(booking.code) == (cancelled, False)  # at the same instant too
    portal.clock.advance(60)
    assert room.booking(booking.code) == cancelled
    assert room.cancel(booking.code) == (cancelled, False)
    with pytest.raises(pyqueue.UnknownBooking):
        room.cancel("AB12C-DE34F")


def test_a_taken_slot_offers_alternatives(portal: Portal) -> None:
    room = portal.room
    room.hold("Kiel 2021-05-12/000", portal.admitted())
    with pytest.raises(pyqueue.SlotTaken) as taken:
        room.hold("Kiel 2021-05-12/000", portal.admitted())
    assert taken.value.code == "slot_taken"
    assert taken.value.alternatives == [f"Kiel 2021-05-12/{i:03d}" for i in range(1, 6)]


def test_expired_hold_is_taken_over_and_swept(portal: Portal) -> None:
    room = portal.room
    first, second = portal.admitted(), portal.admitted()
    hold = room.hold("Kiel 2021-05-12/001", first)
    portal.clock.advance(301)
    with pytest.raises(pyqueue.HoldExpired):
        room.confirm(hold)
    assert room.hold("Kiel 2021-05-12/001", second).ticket != hold.ticket
    room.hold("Kiel 2021-05-12/002", first)
    portal.clock.advance(301)
    assert room.tick_report().holds_expired >= 1
    assert room.slot("Kiel 2021-05-12/002").state == "free"


def test_one_person_cannot_hoard(portal: Portal) -> None:
    room = portal.room
    pass_token = portal.admitted(identity="phone:1")
    room.hold("Kiel 2021-05-12/000", pass_token)
    with pytest.raises(pyqueue.LimitReached) as err:
        room.hold("Kiel 2021-05-12/001", pass_token)
    assert err.value.limit == 1
    # The same person on a second device holds the same ticket, so the same limit.
    with pytest.raises(pyqueue.LimitReached):
        room.hold("Kiel 2021-05-12/001", portal.admitted(identity="phone:1"))


def test_confirming_completes_the_session(portal: Portal) -> None:
    room = portal.room
    ticket = room.join()
    room.tick()
    pass_token = room.status(ticket.token).pass_token
    assert pass_token is not None
    room.confirm(room.hold("Kiel 2021-05-12/003", pass_token))
    assert room.status(ticket.token).state == "completed"


def test_the_kiel_case_no_release_before_the_window() -> None:
    # Monday 2021-05-10; a booking is cancelled at 06:30, the window is 07:00.
    portal = Portal(berlin(2021, 5, 10, 6, 0), release_windows=KIEL_WINDOWS)
    room, clock = portal.room, portal.clock
    room.add_slots(slots(3))
    booking = room.confirm(room.hold("Kiel 2021-05-12/000", portal.admitted()))
    clock.set(berlin(2021, 5, 10, 6, 30))
    room.cancel(booking.code)
    clock.set(berlin(2021, 5, 10, 6, 59))
    room.tick()
    with pytest.raises(pyqueue.ReleaseRefused) as refused:
        room.release()
    assert refused.value.next_window == berlin(2021, 5, 10, 7, 0)
    assert room.slot("Kiel 2021-05-12/000").state == "returned"
    with pytest.raises(pyqueue.InvalidArgument, match="reason"):
        room.release(override=True)
    clock.set(berlin(2021, 5, 10, 7, 0))
    assert room.release(actor="operator:anna") == 1
    assert room.slot("Kiel 2021-05-12/000").state == "free"
    entry = room.audit_log()[-1]
    assert (entry.action, entry.actor, entry.count, entry.at) == (
        "release",
        "operator:anna",
        1,
        berlin(2021, 5, 10, 7, 0),
    )
    # The window is used: a second release at 07:05 waits for 17:00.
    clock.set(berlin(2021, 5, 10, 7, 5))
    with pytest.raises(pyqueue.ReleaseRefused):
        room.release()


def test_scheduled_release_and_override_are_audited() -> None:
    portal = Portal(berlin(2021, 5, 10, 6, 0), release_windows=KIEL_WINDOWS)
    room, clock = portal.room, portal.clock
    room.add_slots(slots(3))
    first = room.confirm(room.hold("Kiel 2021-05-12/000", portal.admitted()))
    second = room.confirm(room.hold("Kiel 2021-05-12/001", portal.admitted()))
    room.cancel(first.code)
    clock.set(berlin(2021, 5, 10, 17, 0))
    assert room.tick_report().released == 1
    room.cancel(second.code)
    assert room.release(override=True, reason="slot found double-entered", actor="admin") == 1
    actions = [(e.action, e.actor, e.count, e.reason) for e in room.audit_log()]
    assert actions[-2:] == [
        ("release", "schedule", 1, None),
        ("release_override", "admin", 1, "slot found double-entered"),
    ]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Spring forward (2021-03-28): 07:00 CEST is 05:00 UTC.
        (datetime(2021, 3, 27, 22, 0, tzinfo=UTC), datetime(2021, 3, 28, 5, 0, tzinfo=UTC)),
        # Fall back (2021-10-31): 07:00 CET is 06:00 UTC.
        (datetime(2021, 10, 30, 22, 0, tzinfo=UTC), datetime(2021, 10, 31, 6, 0, tzinfo=UTC)),
        # A window at 02:30 does not exist on 2021-03-28: it happens when the clock jumps.
        (datetime(2021, 3, 28, 0, 0, tzinfo=UTC), datetime(2021, 3, 28, 1, 0, tzinfo=UTC)),
    ],
)
def test_release_windows_on_daylight_saving_days(now: datetime, expected: datetime) -> None:
    windows = ["daily 02:30"] if expected.hour == 1 else ["daily 07:00"]
    clock = pyqueue.VirtualClock(now)
    config = pyqueue.RoomConfig("dst", now, release_windows=windows, timezone="Europe/Berlin")
    room = pyqueue.Room(config, pyqueue.Signer({"k1": SECRET}), clock)
    assert room.info().next_release_window == expected


def test_threads_claiming_the_same_slots_book_each_once() -> None:
    portal = Portal(berlin(2021, 5, 10, 6, 0), max_active=10_000, admit_per_minute=600_000)
    room = portal.room
    room.add_slots(slots(8))
    passes = [portal.admitted() for _ in range(400)]
    wins: list[str] = []
    taken = 0
    lock = threading.Lock()

    def claim(my_passes: list[str]) -> None:
        nonlocal taken
        for i, pass_token in enumerate(my_passes):
            try:
                hold = room.hold(f"Kiel 2021-05-12/{i % 8:03d}", pass_token)
                room.confirm(hold)
                with lock:
                    wins.append(hold.slot)
            except pyqueue.SlotTaken:
                with lock:
                    taken += 1

    threads = [threading.Thread(target=claim, args=(passes[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [f"Kiel 2021-05-12/{i:03d}" for i in range(8)]
    assert len(wins) + taken == 400
    assert room.availability()[0].booked == 8
    assert room.info().state == "sold_out"


def test_waiting_list_offers_returned_slots_in_queue_order() -> None:
    portal = Portal(
        berlin(2021, 5, 10, 6, 0), returned_slots="waitlist", offer_seconds=60, max_active=1
    )
    room, clock = portal.room, portal.clock
    room.add_slots(slots(1))
    booking = room.confirm(room.hold("Kiel 2021-05-12/000", portal.admitted()))
    portal.clock.advance(1)
    bystander = portal.admitted()  # in booking, using the one place: the others wait
    room.pause()
    b, c = room.join(), room.join()
    assert (b.state, c.state) == ("waiting", "waiting")
    room.cancel(booking.code)
    offer = room.status(b.token).offer
    assert offer is not None and offer.slot == "Kiel 2021-05-12/000"
    assert room.status(c.token).offer is None
    assert room.slot(offer.slot).state == "offered"
    with pytest.raises(pyqueue.SlotTaken):
        room.hold(offer.slot, bystander)
    # B declines: it passes to C and never comes back to B.
    room.decline_offer(b.token)
    with pytest.raises(pyqueue.NoOffer):
        room.decline_offer(b.token)
    assert room.status(b.token).offer is None
    assert room.status(c.token).offer is not None
    # C lets it run out; with nobody else waiting the slot becomes free for everybody.
    room.leave(b.token)
    clock.advance(61)
    room.tick()
    assert room.status(c.token).offer is None
    assert room.slot("Kiel 2021-05-12/000").state == "free"
    assert room.audit_log()[-1].action == "release_no_waitlist"


def test_accepting_an_offer_books_the_slot() -> None:
    portal = Portal(berlin(2021, 5, 10, 6, 0), returned_slots="waitlist", max_active=1)
    room = portal.room
    room.add_slots(slots(1))
    booking = room.confirm(room.hold("Kiel 2021-05-12/000", portal.admitted()))
    room.pause()
    waiting = room.join()
    room.cancel(booking.code)
    # Accepted with the ticket token: waiting visitors have no pass yet.
    accepted = room.confirm("Kiel 2021-05-12/000", waiting.token)
    assert accepted.ticket == waiting.id
    assert room.slot("Kiel 2021-05-12/000").state == "booked"


def test_bad_input_gets_named_exceptions(portal: Portal) -> None:
    room = portal.room
    pass_token, other = portal.admitted(), portal.admitted()
    with pytest.raises(pyqueue.UnknownSlot) as unknown:
        room.hold("no-such-slot", pass_token)
    assert unknown.value.slot == "no-such-slot"
    ticket = room.join()
    with pytest.raises(pyqueue.TokenWrongKind):
        room.hold("Kiel 2021-05-12/000", ticket.token)
    hold = room.hold("Kiel 2021-05-12/000", pass_token)
    with pytest.raises(pyqueue.NotHolder):
        room.confirm(hold.slot, other)
    with pytest.raises(pyqueue.NoHold):
        room.confirm("Kiel 2021-05-12/005", other)
    with pytest.raises(pyqueue.UnknownBooking):
        room.cancel("ZZZZZ-ZZZZZ")
    with pytest.raises(pyqueue.InvalidArgument):
        room.confirm("Kiel 2021-05-12/000")


def test_slot_loads_are_all_or_nothing(portal: Portal) -> None:
    room = portal.room
    before = room.availability()
    with pytest.raises(pyqueue.DuplicateSlot) as dup:
        room.add_slots(slots(3, group="Heide") + slots(1, group="Heide"))
    assert dup.value.slot == "Heide/000"
    with pytest.raises(pyqueue.DuplicateSlot):
        room.add_slots(slots(1))
    with pytest.raises(pyqueue.InvalidArgument, match="timezone-aware"):
        room.add_slots([{"id": "x", "group": "g", "starts_at": datetime(2021, 5, 12, 8, 0)}])
    with pytest.raises(pyqueue.InvalidArgument, match="group"):
        room.add_slots([{"id": "x", "starts_at": "2021-05-12T08:00:00+02:00"}])
    with pytest.raises(pyqueue.InvalidArgument):
        room.add_slots([{"id": "", "group": "g", "starts_at": "2021-05-12T08:00:00+02:00"}])
    assert [(g.group, g.free) for g in room.availability()] == [(g.group, g.free) for g in before]
    assert room.add_slots([("y", "Heide", "2021-05-12T08:00:00+02:00")]) == 1


def test_free_slots_are_paged_by_group_and_time(portal: Portal) -> None:
    room = portal.room
    room.add_slots(slots(5, group="Heide"))
    page = room.free_slots(group="Heide", offset=2, limit=2)
    assert [s.id for s in page] == ["Heide/002", "Heide/003"]
    assert all(s.state == "free" for s in page)
    assert [g.group for g in room.availability()] == ["Heide", "Kiel 2021-05-12"]


def test_a_million_slots_load(portal: Portal) -> None:
    start = berlin(2021, 6, 1, 8, 0)
    many = [(f"m{i}", f"centre {i % 40}", start) for i in range(1_000_000)]
    assert portal.room.add_slots(many) == 1_000_000
    assert sum(g.free for g in portal.room.availability()) == 1_000_020
