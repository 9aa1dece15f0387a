"""The fair queue through the Python API: pre-queue, FIFO, admission, status, dedupe."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

import pyqueue
from tests.conftest import OPENS_AT, RoomFactory


def test_the_readme_example_runs(make_room: RoomFactory, clock: pyqueue.VirtualClock) -> None:
    room = make_room()
    ticket = room.join(identity="phone:+49 170 0000000")
    assert (ticket.state, ticket.new) == ("prequeue", True)
    clock.set(OPENS_AT + timedelta(seconds=1))  # admissions are rate x time since opening
    room.tick()
    status = room.status(ticket.token)
    assert status.state == "admitted"
    assert status.pass_token is not None
    # Checked against the room's (virtual) clock; pyqueue.verify_pass uses the wall clock.
    assert room.verify_pass(status.pass_token).ticket == ticket.id


def test_verify_pass_on_the_wall_clock(signer: pyqueue.Signer) -> None:
    room = pyqueue.Room(
        pyqueue.RoomConfig("live", datetime.now(UTC) - timedelta(minutes=1)), signer
    )
    status = room.status(room.join().token)
    assert status.state == "admitted"
    assert status.pass_token is not None
    info = pyqueue.verify_pass(status.pass_token, signer, room="live")
    assert (info.room, info.ticket) == ("live", status.ticket)
    with pytest.raises(pyqueue.TokenWrongRoom):
        pyqueue.verify_pass(status.pass_token, signer, room="kiel")


def test_prequeue_shows_countdown_and_no_place(make_room: RoomFactory) -> None:
    room = make_room()
    status = room.status(room.join().token)
    assert status.state == "prequeue"
    assert status.ahead is None
    assert status.opens_in_seconds == pytest.approx(3600)
    assert not status.eta.known
    assert status.eta.low == pytest.approx(3600)


def test_draw_is_recorded_and_reproducible(
    make_room: RoomFactory, clock: pyqueue.VirtualClock
) -> None:
    room = make_room(max_active=1)
    tickets = [room.join() for _ in range(500)]
    assert room.draw() is None
    clock.set(OPENS_AT)
    room.tick()
    draw = room.draw()
    assert draw is not None
    assert draw.seed == 2021
    assert draw.joined == [t.id for t in tickets]
    reproduced = [draw.joined[i] for i in pyqueue.draw_order(len(draw.joined), draw.seed)]
    assert draw.order == reproduced
    assert sorted(draw.order) == draw.joined
    # Places follow the drawn order exactly.
    aheads = {t.id: room.status(t.token).ahead for t in tickets}
    assert [aheads[t] for t in draw.order] == list(range(500))


def test_fifo_after_opening(make_room: RoomFactory, clock: pyqueue.VirtualClock) -> None:
    room = make_room(admit_per_minute=60, max_active=1000)
    clock.set(OPENS_AT)
    room.queue_all()
    tickets = [room.join() for _ in range(20)]
    admitted_order = []
    for _ in range(30):
        clock.advance(1)
        for t in tickets:
            room.status(t.token)
        room.tick()
        for t in tickets:
            if room.status(t.token).state == "admitted" and t.id not in admitted_order:
                admitted_order.append(t.id)
    assert admitted_order == [t.id for t in tickets]


def test_no_crowd_means_no_queue(make_room: RoomFactory, clock: pyqueue.VirtualClock) -> None:
    room = make_room()
    clock.set(OPENS_AT + timedelta(seconds=5))
    room.tick()
    assert room.join().state == "admitted"


def test_identity_and_reload_keep_the_place(
    make_room: RoomFactory, clock: pyqueue.VirtualClock
) -> None:
    room = make_room()
    first = room.join(identity="code:ABC")
    second_device = room.join(identity="code:ABC")
    reload = room.join(ticket=first.token)
    assert first.id == second_device.id == reload.id
    assert first.token == second_device.token
    assert not second_device.new
    assert room.info().waiting == 1


def test_identity_required(make_room: RoomFactory) -> None:
    room = make_room(identity="required")
    with pytest.raises(pyqueue.IdentityRequired) as err:
        room.join()
    assert err.value.code == "identity_required"


def test_joins_before_prequeue_opens_and_after_closing_are_refused(
    make_room: RoomFactory, clock: pyqueue.VirtualClock
) -> None:
    room = make_room(
        prequeue_opens_at=OPENS_AT - timedelta(minutes=30),
        closes_at=OPENS_AT + timedelta(hours=2),
    )
    with pytest.raises(pyqueue.NotOpenYet) as err:
        room.join()
    assert err.value.opens_in_seconds == pytest.approx(1800)
    clock.set(OPENS_AT + timedelta(hours=2))
    with pytest.raises(pyqueue.RoomClosed):
        room.join()
    assert room.info().state == "closed"


def test_pause_and_resume(make_room: RoomFactory, clock: pyqueue.VirtualClock) -> None:
    room = make_room()
    clock.set(OPENS_AT)
    room.pause()
    ticket = room.join()
    assert ticket.state == "waiting"
    clock.advance(5)
    assert room.tick() == 0
    assert room.status(ticket.token).paused
    room.resume()
    clock.advance(1)
    assert room.tick() == 1
    assert [e.action for e in room.audit_log()] == ["pause", "resume"]


def test_complete_and_leave_give_capacity_back(
    make_room: RoomFactory, clock: pyqueue.VirtualClock
) -> None:
    room = make_room(max_active=1)
    clock.set(OPENS_AT + timedelta(seconds=1))
    first = room.join()
    second = room.join()
    assert (first.state, second.state) == ("admitted", "waiting")
    pass_token = room.status(first.token).pass_token
    assert pass_token is not None
    room.complete(pass_token)
    clock.advance(1)
    room.tick()
    assert room.status(second.token).state == "admitted"
    assert room.leave(second.token) == "admitted"
    assert room.info().active == 0


def test_abandoned_tickets_are_skipped(make_room: RoomFactory, clock: pyqueue.VirtualClock) -> None:
    room = make_room(max_active=1, heartbeat_timeout_seconds=30)
    clock.set(OPENS_AT)
    room.queue_all()
    silent, polling = room.join(), room.join()
    clock.advance(45)
    room.status(polling.token)
    report = room.tick_report()
    assert (report.abandoned, report.admitted) == (1, 1)
    assert room.status(silent.token).state == "abandoned"
    # Coming back puts the visitor at the end of the line, not at the old place.
    assert room.join(ticket=silent.token).state == "waiting"


def test_wait_estimate_is_a_stable_range(
    make_room: RoomFactory, clock: pyqueue.VirtualClock
) -> None:
    room = make_room(admit_per_minute=60, max_active=10_000)
    clock.set(OPENS_AT)
    room.queue_all()
    tickets = [room.join() for _ in range(300)]
    last = tickets[-1]
    estimates = []
    for _ in range(120):
        clock.advance(1)
        for t in tickets:
            room.status(t.token)  # everybody keeps polling, so nobody is skipped
        room.tick()
        estimates.append(room.status(last.token).eta)
    final = estimates[-1]
    assert final.known
    assert final.low < final.seconds < final.high
    # Admitting one a second, 300 - 120 remain: about 180 s.
    assert final.seconds == pytest.approx(180, rel=0.1)
    # Polls a second apart never jump by more than a few percent beyond the second that passed.
    for before, after in itertools.pairwise(estimates[60:]):
        assert abs((before.seconds - 1) - after.seconds) <= 0.05 * before.seconds


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("admit_per_minute", -5, "admit_per_minute"),
        ("admit_per_minute", 0, "admit_per_minute"),
        ("max_active", 0, "max_active"),
        ("prequeue", "random", "prequeue"),
        ("identity", "sometimes", "identity"),
        ("returned_slots", "lottery", "returned_slots"),
        ("timezone", "Mars/Olympus", "Mars/Olympus"),
        ("release_windows", ["Mon-Fri 7"], "Mon-Fri 7"),
        ("handoff_url", "javascript:alert(1)", "handoff_url"),
    ],
)
def test_bad_config_is_refused_with_a_message(field: str, value: object, needle: str) -> None:
    with pytest.raises(pyqueue.InvalidConfig, match=needle.replace("/", ".")):
        pyqueue.RoomConfig("kiel", OPENS_AT, **{field: value})  # type: ignore[arg-type]


def test_bad_arguments_at_the_boundary() -> None:
    with pytest.raises(pyqueue.InvalidConfig, match="room id"):
        pyqueue.RoomConfig("", OPENS_AT)
    with pytest.raises(pyqueue.InvalidArgument, match="timezone-aware"):
        pyqueue.RoomConfig("kiel", datetime(2021, 5, 10, 7, 0))
    with pytest.raises(pyqueue.InvalidArgument, match="RFC 3339"):
        pyqueue.RoomConfig("kiel", "tomorrow morning")
    # Wrong types and values beyond any machine integer are refused by name too, not by a
    # bare TypeError or OverflowError of the conversion.
    with pytest.raises(pyqueue.InvalidConfig, match="max_active must be a whole number"):
        pyqueue.RoomConfig("kiel", OPENS_AT, max_active="many")  # type: ignore[arg-type]
    with pytest.raises(pyqueue.InvalidConfig, match="max_active must be between 1 and 1000000"):
        pyqueue.RoomConfig("kiel", OPENS_AT, max_active=-1)
    with pytest.raises(pyqueue.InvalidConfig, match="seed must be between 0 and"):
        pyqueue.RoomConfig("kiel", OPENS_AT, seed=2**64)
    with pytest.raises(pyqueue.InvalidConfig, match="after opens_at"):
        pyqueue.RoomConfig("kiel", OPENS_AT, closes_at=OPENS_AT - timedelta(hours=1))


def test_empty_identity_is_refused(make_room: RoomFactory) -> None:
    with pytest.raises(pyqueue.InvalidArgument):
        make_room().join(identity="")


def test_config_accepts_rfc3339_strings() -> None:
    config = pyqueue.RoomConfig("kiel", "2021-05-10T07:00:00+02:00")
    assert config.opens_at == OPENS_AT


def test_virtual_clock_refuses_to_go_back(clock: pyqueue.VirtualClock) -> None:
    with pytest.raises(pyqueue.InvalidArgument):
        clock.set(OPENS_AT - timedelta(days=1))
    with pytest.raises(pyqueue.InvalidArgument):
        clock.advance(-1)


def test_version_comes_from_cargo() -> None:
    assert pyqueue.__version__.count(".") == 2


def test_moving_the_opening_earlier_opens_earlier(
    make_room: RoomFactory, clock: pyqueue.VirtualClock
) -> None:
    room = make_room()
    ticket = room.join()
    earlier = OPENS_AT - timedelta(minutes=30)
    room.update(pyqueue.RoomConfig("kiel", earlier, max_active=100, seed=2021))
    clock.set(earlier + timedelta(seconds=1))
    assert room.tick() == 1
    assert room.status(ticket.token).state == "admitted"
    assert room.audit_log()[-1].action == "config"


def test_update_shows_the_config_in_force(make_room: RoomFactory) -> None:
    room = make_room()
    changed = pyqueue.RoomConfig(
        "kiel", OPENS_AT, admit_per_minute=900, handoff_url="https://book.example/go", seed=2021
    )
    room.update(changed)
    assert room.config.admit_per_minute == 900
    assert room.handoff_url == "https://book.example/go"
    with pytest.raises(pyqueue.InvalidConfig, match="id"):
        room.update(pyqueue.RoomConfig("dresden", OPENS_AT))
    assert room.config.admit_per_minute == 900
