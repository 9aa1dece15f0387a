"""The rules of DESIGN §3, one suite run against every backend: the embedded memory backend and
the Redis backend on a real redis-server. Where a rule fixes an outcome (the draw, who is
admitted), both backends must give the same one. All on a virtual clock: nothing waits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import pyqueue
from pyqueue.backends import Backend
from tests.redis_fixtures import make_backend, redis_url  # noqa: F401 - the fixture is used by name

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
ROOM = "kiel"

Setup = tuple[Backend, pyqueue.VirtualClock, Callable[..., Any]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def env(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    async for backend in make_backend(kind, clock, url):

        async def room(backend: Backend = backend, **settings: Any) -> None:
            values: dict[str, Any] = {
                "admit_per_minute": 600,
                "max_active": 100,
                "heartbeat_timeout_seconds": 60,
                "seed": 2021,
            }
            values.update(settings)
            await backend.create_room(pyqueue.RoomConfig(ROOM, OPENS_AT, **values), "test")

        yield backend, clock, room


async def slots(backend: Backend, n: int, group: str = "Kiel") -> None:
    items = [
        {"id": f"s{i}", "group": group, "starts_at": OPENS_AT + timedelta(days=2, minutes=i)}
        for i in range(n)
    ]
    assert await backend.add_slots(ROOM, items, "test") == n


async def open_room(backend: Backend, clock: pyqueue.VirtualClock) -> None:
    clock.set(OPENS_AT)
    await backend.tick(ROOM)


async def pass_of(backend: Backend, token: str) -> str:
    status = await backend.status(ROOM, token)
    assert status.state == "admitted" and status.pass_token is not None
    return status.pass_token


# ----- fairness ---------------------------------------------------------------------------------


async def test_nothing_is_admitted_before_opening(env: Setup) -> None:
    backend, clock, room = env
    await room()
    tickets = [await backend.join(ROOM, None, None) for _ in range(30)]
    for _ in range(20):
        clock.advance(60)
        assert (await backend.tick(ROOM)).admitted == 0
    assert {(await backend.status(ROOM, t.token)).state for t in tickets} == {"prequeue"}
    assert (await backend.room_info(ROOM)).state == "prequeue"
    assert await backend.draw(ROOM) is None


async def test_the_prequeue_is_drawn_from_the_recorded_seed(env: Setup) -> None:
    backend, clock, room = env
    await room()
    tickets = [await backend.join(ROOM, None, None) for _ in range(50)]
    await open_room(backend, clock)
    draw = await backend.draw(ROOM)
    assert draw is not None and draw.seed == 2021 and draw.mode == "shuffle"
    joined = [t.id for t in tickets]
    assert list(draw.joined) == joined
    assert list(draw.order) == [joined[i] for i in pyqueue.draw_order(50, 2021)]
    # Positions follow the draw: the k-th drawn has k waiting in front.
    for k, ticket in enumerate(draw.order[:10]):
        token = next(t.token for t in tickets if t.id == ticket)
        assert (await backend.status(ROOM, token)).ahead == k


async def test_fifo_prequeue_and_fifo_after_opening(env: Setup) -> None:
    backend, clock, room = env
    await room(prequeue="fifo", max_active=1)
    early = [await backend.join(ROOM, None, None) for _ in range(3)]
    await open_room(backend, clock)
    late = [await backend.join(ROOM, None, None) for _ in range(3)]
    draw = await backend.draw(ROOM)
    assert draw is not None and list(draw.order) == [t.id for t in early]
    aheads = [(await backend.status(ROOM, t.token)).ahead for t in early + late]
    assert aheads == [0, 1, 2, 3, 4, 5]


async def test_one_identity_one_ticket_and_resume_keeps_the_place(env: Setup) -> None:
    backend, _, room = env
    await room()
    first = await backend.join(ROOM, "phone:1", None)
    again = await backend.join(ROOM, "phone:1", None)
    assert (first.id, first.new, again.id, again.new) == (again.id, True, first.id, False)
    assert again.token == first.token
    resumed = await backend.join(ROOM, None, first.token)
    assert (resumed.id, resumed.new) == (first.id, False)
    other = await backend.join(ROOM, "phone:2", None)
    assert other.id != first.id


async def test_identity_required_and_checked(env: Setup) -> None:
    backend, _, room = env
    await room(identity="required")
    with pytest.raises(pyqueue.IdentityRequired):
        await backend.join(ROOM, None, None)
    with pytest.raises(pyqueue.InvalidArgument):
        await backend.join(ROOM, "x" * 300, None)


async def test_ahead_counts_waiting_tickets_in_front_and_never_rises(env: Setup) -> None:
    backend, clock, room = env
    await room(admit_per_minute=120, max_active=1000)
    tickets = [await backend.join(ROOM, None, None) for _ in range(40)]
    await open_room(backend, clock)
    last = {t.id: 10**9 for t in tickets}
    for step in range(1, 12):
        clock.advance(1)
        await backend.tick(ROOM)
        for t in tickets:
            if t.id % 7 == 0 and step == 4:
                await backend.leave(ROOM, t.token)
            status = await backend.status(ROOM, t.token)
            if status.ahead is not None:
                assert status.ahead <= last[t.id]
                last[t.id] = status.ahead
    waiting = [
        s for s in [await backend.status(ROOM, t.token) for t in tickets] if s.ahead is not None
    ]
    assert sorted(s.ahead for s in waiting) == list(range(len(waiting)))


# ----- admission --------------------------------------------------------------------------------


async def test_rate_and_capacity_limit_admission(env: Setup) -> None:
    backend, clock, room = env
    await room(admit_per_minute=60, max_active=3)
    tickets = [await backend.join(ROOM, None, None) for _ in range(10)]
    await open_room(backend, clock)
    admitted = 0
    for _ in range(10):
        clock.advance(1)
        for t in tickets:
            await backend.status(ROOM, t.token)
        admitted += (await backend.tick(ROOM)).admitted
        assert (await backend.room_info(ROOM)).active <= 3
    assert admitted == 3
    states = [(await backend.status(ROOM, t.token)).state for t in tickets]
    first = tickets[states.index("admitted")]
    await backend.complete(ROOM, await pass_of(backend, first.token))
    assert (await backend.status(ROOM, first.token)).state == "completed"
    clock.advance(1)
    assert (await backend.tick(ROOM)).admitted == 1


async def test_a_join_without_crowd_passes_at_once_unless_queue_all(env: Setup) -> None:
    backend, clock, room = env
    await room()
    await open_room(backend, clock)
    clock.advance(1)
    await backend.tick(ROOM)
    assert (await backend.join(ROOM, None, None)).state == "admitted"
    await backend.queue_all(ROOM, True, "anna")
    assert (await backend.join(ROOM, None, None)).state == "waiting"


async def test_silent_tickets_are_skipped_and_use_no_capacity(env: Setup) -> None:
    backend, clock, room = env
    await room(heartbeat_timeout_seconds=30, max_active=1000)
    await open_room(backend, clock)
    await backend.queue_all(ROOM, True, "anna")
    tickets = [await backend.join(ROOM, None, None) for _ in range(4)]
    clock.advance(40)
    await backend.status(ROOM, tickets[3].token)
    clock.advance(1)
    report = await backend.tick(ROOM)
    assert (report.admitted, report.abandoned) == (1, 3)
    assert (await backend.status(ROOM, tickets[3].token)).state == "admitted"
    assert (await backend.status(ROOM, tickets[0].token)).state == "abandoned"
    # Back after abandoning: the end of the line.
    back = await backend.join(ROOM, None, tickets[0].token)
    assert (back.id, back.new, back.state) == (tickets[0].id, False, "waiting")


async def test_pause_admits_nobody_and_banks_nothing(env: Setup) -> None:
    backend, clock, room = env
    await room()
    await open_room(backend, clock)
    await backend.queue_all(ROOM, True, "anna")
    for _ in range(100):
        await backend.join(ROOM, None, None)
    await backend.pause(ROOM, "anna")
    clock.advance(5)
    assert (await backend.tick(ROOM)).admitted == 0
    assert (await backend.room_info(ROOM)).state == "paused"
    await backend.resume(ROOM, "anna")
    clock.advance(1)
    assert (await backend.tick(ROOM)).admitted == 10
    actions = [e.action for e in await backend.audit_log(ROOM)]
    assert actions == ["queue_all_on", "pause", "resume"]


async def test_sessions_expire_and_give_capacity_back(env: Setup) -> None:
    backend, clock, room = env
    await room(max_active=1, session_seconds=60)
    await open_room(backend, clock)
    clock.advance(1)
    await backend.tick(ROOM)
    first = await backend.join(ROOM, None, None)
    second = await backend.join(ROOM, None, None)
    assert (first.state, second.state) == ("admitted", "waiting")
    pass_token = await pass_of(backend, first.token)
    info = await backend.verify_pass(ROOM, pass_token)
    assert info.ticket == first.id and info.room == ROOM
    clock.advance(60)
    await backend.status(ROOM, second.token)
    report = await backend.tick(ROOM)
    assert (report.expired, report.admitted) == (1, 1)
    assert (await backend.status(ROOM, first.token)).state == "expired"
    with pytest.raises(pyqueue.TokenExpired):
        await backend.complete(ROOM, pass_token)


async def test_the_pass_of_a_session_left_cannot_complete_the_next_session(env: Setup) -> None:
    """A visitor who left the booking site and came back is admitted anew; the first pass
    (still within its signed lifetime) ends nothing: the new session keeps its place."""
    backend, clock, room = env
    await room()
    await open_room(backend, clock)
    clock.advance(1)
    await backend.tick(ROOM)
    ticket = await backend.join(ROOM, None, None)
    first_pass = await pass_of(backend, ticket.token)
    assert await backend.leave(ROOM, first_pass) == "admitted"
    clock.advance(2)
    again = await backend.join(ROOM, None, ticket.token)
    assert again.id == ticket.id
    clock.advance(1)
    await backend.tick(ROOM)
    second_pass = await pass_of(backend, ticket.token)
    assert second_pass != first_pass
    with pytest.raises((pyqueue.TokenExpired, pyqueue.SessionEnded)):
        await backend.complete(ROOM, first_pass)
    assert (await backend.status(ROOM, ticket.token)).state == "admitted"
    await backend.complete(ROOM, second_pass)
    assert (await backend.status(ROOM, ticket.token)).state == "completed"


async def test_closing_refuses_joins_and_closes_waiting_tickets(env: Setup) -> None:
    backend, clock, room = env
    await room(closes_at=OPENS_AT + timedelta(seconds=100))
    await open_room(backend, clock)
    await backend.queue_all(ROOM, True, "anna")
    ticket = await backend.join(ROOM, None, None)
    clock.advance(100)
    with pytest.raises(pyqueue.RoomClosed):
        await backend.join(ROOM, None, None)
    assert (await backend.status(ROOM, ticket.token)).state == "closed"
    assert (await backend.room_info(ROOM)).state == "closed"


async def test_leaving_the_prequeue_and_coming_back(env: Setup) -> None:
    backend, clock, room = env
    await room()
    a = await backend.join(ROOM, "phone:1", None)
    await backend.join(ROOM, None, None)
    assert await backend.leave(ROOM, a.token) == "prequeue"
    assert (await backend.room_info(ROOM)).waiting == 1
    again = await backend.join(ROOM, "phone:1", None)
    assert (again.id, again.state) == (a.id, "prequeue")
    assert (await backend.room_info(ROOM)).waiting == 2
    await open_room(backend, clock)
    draw = await backend.draw(ROOM)
    assert draw is not None and len(draw.order) == 2


async def test_tokens_are_bound_to_room_and_kind(env: Setup) -> None:
    backend, clock, room = env
    await room()
    await open_room(backend, clock)
    clock.advance(1)
    await backend.tick(ROOM)
    ticket = await backend.join(ROOM, None, None)
    pass_token = await pass_of(backend, ticket.token)
    with pytest.raises(pyqueue.TokenWrongKind):
        await backend.status(ROOM, pass_token)
    with pytest.raises(pyqueue.TokenWrongKind):
        await backend.hold(ROOM, "s0", ticket.token)
    with pytest.raises(pyqueue.TokenBadSignature):
        await backend.status(ROOM, ticket.token[:-2] + "AA")


# ----- inventory --------------------------------------------------------------------------------


async def admitted_passes(backend: Backend, clock: pyqueue.VirtualClock, n: int) -> list[str]:
    await open_room(backend, clock)
    clock.advance(1)
    await backend.tick(ROOM)
    tickets = [await backend.join(ROOM, None, None) for _ in range(n)]
    return [await pass_of(backend, t.token) for t in tickets]


async def test_a_slot_is_held_once_and_the_loser_gets_alternatives(env: Setup) -> None:
    backend, clock, room = env
    await room()
    await slots(backend, 4)
    a, b = await admitted_passes(backend, clock, 2)
    hold = await backend.hold(ROOM, "s1", a)
    assert (hold.slot, hold.group) == ("s1", "Kiel")
    assert (await backend.hold(ROOM, "s1", a)).until == hold.until  # one's own: unchanged
    with pytest.raises(pyqueue.SlotTaken) as taken:
        await backend.hold(ROOM, "s1", b)
    assert taken.value.slot == "s1" and list(taken.value.alternatives) == ["s0", "s2", "s3"]
    with pytest.raises(pyqueue.LimitReached):
        await backend.hold(ROOM, "s2", a)
    groups = await backend.availability(ROOM)
    assert [(g.group, g.free, g.held) for g in groups] == [("Kiel", 3, 1)]
    assert [s.id for s in await backend.free_slots(ROOM, None, 0, 10)] == ["s0", "s2", "s3"]


async def test_confirm_books_once_and_cancel_returns_the_slot(env: Setup) -> None:
    backend, clock, room = env
    await room()
    await slots(backend, 2)
    (a,) = await admitted_passes(backend, clock, 1)
    with pytest.raises(pyqueue.NoHold):
        await backend.confirm(ROOM, "s0", a)
    await backend.hold(ROOM, "s0", a)
    booking = await backend.confirm(ROOM, "s0", a)
    assert booking.slot == "s0" and len(booking.code) == 11
    assert (await backend.confirm(ROOM, "s0", a)).code == booking.code
    assert (await backend.booking(ROOM, booking.code.lower())).slot == "s0"
    assert (booking.state, booking.cancelled_at) == ("booked", None)
    cancelled, cancelled_now = await backend.cancel(ROOM, booking.code)
    assert cancelled.slot == "s0" and cancelled_now
    assert (cancelled.state, cancelled.cancelled_at) == ("cancelled", clock.now())
    # The code answers with the cancellation from now on; cancelling again changes nothing.
    assert await backend.cancel(ROOM, booking.code) == (cancelled, False)  # the same instant
    clock.advance(30)
    assert await backend.cancel(ROOM, booking.code) == (cancelled, False)
    assert await backend.booking(ROOM, booking.code) == cancelled
    with pytest.raises(pyqueue.UnknownBooking):
        await backend.cancel(ROOM, "AB12C-DE34F")
    groups = await backend.availability(ROOM)
    assert [(g.free, g.booked, g.returned) for g in groups] == [(1, 0, 1)]


async def test_a_lapsed_hold_is_taken_over_and_cannot_be_confirmed(env: Setup) -> None:
    backend, clock, room = env
    await room(hold_seconds=60, session_seconds=900)
    await slots(backend, 1)
    a, b = await admitted_passes(backend, clock, 2)
    await backend.hold(ROOM, "s0", a)
    clock.advance(61)
    with pytest.raises(pyqueue.HoldExpired):
        await backend.confirm(ROOM, "s0", a)
    assert (await backend.hold(ROOM, "s0", b)).slot == "s0"
    with pytest.raises(pyqueue.NotHolder):
        await backend.confirm(ROOM, "s0", a)
    assert (await backend.confirm(ROOM, "s0", b)).slot == "s0"


async def test_release_hold_frees_the_slot(env: Setup) -> None:
    backend, clock, room = env
    await room()
    await slots(backend, 1)
    a, b = await admitted_passes(backend, clock, 2)
    await backend.hold(ROOM, "s0", a)
    with pytest.raises(pyqueue.NotHolder):
        await backend.release_hold(ROOM, "s0", b)
    await backend.release_hold(ROOM, "s0", a)
    assert (await backend.hold(ROOM, "s0", b)).slot == "s0"
    with pytest.raises(pyqueue.UnknownSlot):
        await backend.hold(ROOM, "nope", b)


async def test_loading_slots_is_all_or_nothing(env: Setup) -> None:
    backend, _, room = env
    await room()
    await slots(backend, 2)
    with pytest.raises(pyqueue.DuplicateSlot):
        await slots(backend, 3)
    assert [g.free for g in await backend.availability(ROOM)] == [2]
    assert [e.action for e in await backend.audit_log(ROOM)] == ["load_slots"]


# ----- returned slots ---------------------------------------------------------------------------


async def book_and_cancel(backend: Backend, pass_token: str, slot: str) -> None:
    await backend.hold(ROOM, slot, pass_token)
    booking = await backend.confirm(ROOM, slot, pass_token)
    await backend.cancel(ROOM, booking.code)


async def test_returned_slots_wait_for_the_release_window(env: Setup) -> None:
    backend, clock, room = env
    # Opening is Monday 07:00 in Berlin; the next window is 17:00 the same day.
    await room(release_windows=["Mon-Fri 07:00", "Mon-Fri 17:00"], timezone="Europe/Berlin")
    await slots(backend, 2)
    (a,) = await admitted_passes(backend, clock, 1)
    await book_and_cancel(backend, a, "s0")
    info = await backend.room_info(ROOM)
    assert info.next_release_window == OPENS_AT + timedelta(hours=10)
    with pytest.raises(pyqueue.ReleaseRefused) as refused:
        await backend.release(ROOM, False, None, "anna")
    assert refused.value.next_window == OPENS_AT + timedelta(hours=10)
    clock.advance(3600)
    assert (await backend.tick(ROOM)).released == 0
    assert [(g.free, g.returned) for g in await backend.availability(ROOM)] == [(1, 1)]
    clock.set(OPENS_AT + timedelta(hours=10))
    assert (await backend.tick(ROOM)).released == 1
    assert [(g.free, g.returned) for g in await backend.availability(ROOM)] == [(2, 0)]
    assert ("release", "schedule", 1) in [
        (e.action, e.actor, e.count) for e in await backend.audit_log(ROOM)
    ]


async def test_an_early_release_needs_an_override_and_a_reason(env: Setup) -> None:
    backend, clock, room = env
    await room(release_windows=["Mon-Fri 17:00"], timezone="Europe/Berlin")
    await slots(backend, 1)
    (a,) = await admitted_passes(backend, clock, 1)
    await book_and_cancel(backend, a, "s0")
    with pytest.raises(pyqueue.InvalidArgument):
        await backend.release(ROOM, True, " ", "anna")
    assert await backend.release(ROOM, True, "centre asked", "anna") == 1
    entry = (await backend.audit_log(ROOM))[-1]
    assert (entry.action, entry.actor, entry.count, entry.reason) == (
        "release_override",
        "anna",
        1,
        "centre asked",
    )


async def test_waitlist_offers_a_returned_slot_to_the_next_in_line(env: Setup) -> None:
    backend, clock, room = env
    await room(returned_slots="waitlist", max_active=1, offer_seconds=60)
    await slots(backend, 1)
    (a,) = await admitted_passes(backend, clock, 1)
    first = await backend.join(ROOM, None, None)
    second = await backend.join(ROOM, None, None)
    assert (first.state, second.state) == ("waiting", "waiting")
    await book_and_cancel(backend, a, "s0")
    offer = (await backend.status(ROOM, first.token)).offer
    assert offer is not None and offer.slot == "s0"
    assert (await backend.status(ROOM, second.token)).offer is None
    # Declined: it passes on to the next one.
    await backend.decline_offer(ROOM, first.token)
    assert (await backend.status(ROOM, first.token)).offer is None
    offer = (await backend.status(ROOM, second.token)).offer
    assert offer is not None and offer.slot == "s0"
    booking = await backend.confirm(ROOM, "s0", second.token)
    assert booking.slot == "s0" and booking.ticket == second.id
    assert (await backend.status(ROOM, second.token)).state == "left"


async def test_a_lapsed_offer_passes_on(env: Setup) -> None:
    backend, clock, room = env
    await room(returned_slots="waitlist", max_active=1, offer_seconds=60)
    await slots(backend, 1)
    (a,) = await admitted_passes(backend, clock, 1)
    first = await backend.join(ROOM, None, None)
    second = await backend.join(ROOM, None, None)
    await book_and_cancel(backend, a, "s0")
    # Paused, so that the freed session does not admit the second one meanwhile.
    await backend.pause(ROOM, "anna")
    clock.advance(30)
    await backend.status(ROOM, second.token)
    clock.advance(31)
    report = await backend.tick(ROOM)
    assert (report.holds_expired, report.offers_made) == (1, 1)
    assert (await backend.status(ROOM, first.token)).offer is None
    offer = (await backend.status(ROOM, second.token)).offer
    assert offer is not None and offer.slot == "s0"


# ----- one declaration of each value ------------------------------------------------------------


async def every_operation(backend: Backend, clock: pyqueue.VirtualClock) -> list[tuple[str, Any]]:
    """Each value-returning operation once (but the status), with what it returned."""
    results: list[tuple[str, Any]] = []
    await slots(backend, 3)
    results.append(("draw", await backend.draw(ROOM)))  # None before the opening
    ticket = await backend.join(ROOM, None, None)
    results.append(("join", ticket))
    clock.set(OPENS_AT)
    results.append(("tick", await backend.tick(ROOM)))  # the draw
    clock.advance(1)
    results.append(("tick", await backend.tick(ROOM)))  # the admission
    pass_token = await pass_of(backend, ticket.token)
    results.append(("draw", await backend.draw(ROOM)))
    results.append(("verify_pass", await backend.verify_pass(ROOM, pass_token)))
    results.append(("hold", await backend.hold(ROOM, "s0", pass_token)))
    results += [("free_slots", s) for s in await backend.free_slots(ROOM, None, 0, 10)]
    booking = await backend.confirm(ROOM, "s0", pass_token)
    results.append(("confirm", booking))
    results.append(("booking", await backend.booking(ROOM, booking.code)))
    cancelled, cancelled_now = await backend.cancel(ROOM, booking.code)
    assert cancelled_now is True
    results.append(("cancel", cancelled))
    results += [("availability", g) for g in await backend.availability(ROOM)]
    info = await backend.room_info(ROOM)
    results.append(("room_info", info))
    results += [("room_info.availability", g) for g in info.availability]
    await backend.pause(ROOM, "anna")
    results += [("audit_log", e) for e in await backend.audit_log(ROOM)]
    return results


async def test_every_operation_returns_the_cores_value_classes(env: Setup) -> None:
    """Both backends hand out the same ``pyqueue`` classes: one declaration of each shape."""
    backend, clock, room = env
    await room()
    expected = {
        "join": pyqueue.Ticket,
        "tick": pyqueue.TickReport,
        "draw": pyqueue.Draw,
        "verify_pass": pyqueue.PassInfo,
        "hold": pyqueue.Hold,
        "free_slots": pyqueue.SlotInfo,
        "confirm": pyqueue.Booking,
        "booking": pyqueue.Booking,
        "cancel": pyqueue.Booking,
        "availability": pyqueue.GroupAvailability,
        "room_info": pyqueue.RoomInfo,
        "room_info.availability": pyqueue.GroupAvailability,
        "audit_log": pyqueue.AuditEntry,
    }
    results = await every_operation(backend, clock)
    assert results[0] == ("draw", None)
    seen = {name for name, _ in results}
    assert seen == set(expected), "every operation was reached"
    wrong = [
        (name, type(value)) for name, value in results[1:] if type(value) is not expected[name]
    ]
    assert wrong == []


# ----- found by the model test (tests/test_inventory_backends.py) on Redis ------------------


async def test_a_hold_deadline_is_rounded_up_to_a_whole_second(env: Setup) -> None:
    backend, clock, room = env
    await room(hold_seconds=60, session_seconds=900)
    await slots(backend, 1)
    (a,) = await admitted_passes(backend, clock, 1)
    clock.advance(2.25)
    hold = await backend.hold(ROOM, "s0", a)
    granted = clock.now() + timedelta(seconds=60)
    assert hold.until == granted.replace(microsecond=0) + timedelta(seconds=1)


async def test_a_lapsed_hold_counts_until_a_claim_at_the_limit_ends_it(env: Setup) -> None:
    backend, clock, room = env
    await room(hold_seconds=60, session_seconds=900, max_bookings_per_identity=2)
    await slots(backend, 3)
    (a,) = await admitted_passes(backend, clock, 1)
    await backend.hold(ROOM, "s0", a)
    clock.advance(61)
    # Not at the limit: the lapsed hold stays, and counts, so this booking uses the allowance up.
    await backend.hold(ROOM, "s1", a)
    await backend.confirm(ROOM, "s1", a)
    groups = await backend.availability(ROOM)
    assert [(g.free, g.held, g.booked) for g in groups] == [(1, 1, 1)]
    with pytest.raises(pyqueue.SessionEnded):
        await backend.verify_pass(ROOM, a)


async def test_a_claim_at_the_limit_ends_ones_own_lapsed_hold_first(env: Setup) -> None:
    backend, clock, room = env
    await room(hold_seconds=60, session_seconds=900, max_bookings_per_identity=1)
    await slots(backend, 3)
    (a,) = await admitted_passes(backend, clock, 1)
    await backend.hold(ROOM, "s0", a)
    clock.advance(61)
    await backend.hold(ROOM, "s1", a)
    groups = await backend.availability(ROOM)
    assert [(g.free, g.held) for g in groups] == [(2, 1)]


async def test_a_room_with_a_hold_left_is_not_sold_out(env: Setup) -> None:
    backend, clock, room = env
    await room(max_bookings_per_identity=1)
    await slots(backend, 2)
    a, b = await admitted_passes(backend, clock, 2)
    await backend.hold(ROOM, "s0", a)
    await backend.confirm(ROOM, "s0", a)
    await backend.hold(ROOM, "s1", b)
    assert (await backend.room_info(ROOM)).state == "open"  # the hold may lapse
    await backend.confirm(ROOM, "s1", b)
    assert (await backend.room_info(ROOM)).state == "sold_out"
    # Sold out says more than paused; closed says more than both.
    await backend.pause(ROOM, "anna")
    assert (await backend.room_info(ROOM)).state == "sold_out"


async def test_the_closing_shows_in_the_room_state_without_another_call(env: Setup) -> None:
    backend, clock, room = env
    await room(closes_at=OPENS_AT + timedelta(seconds=100))
    await open_room(backend, clock)
    await backend.pause(ROOM, "anna")
    clock.advance(100)
    # No join, tick or poll in between: asking the room's state closes it, as in the core.
    assert (await backend.room_info(ROOM)).state == "closed"


async def test_a_running_room_refuses_the_changes_it_may_not_take(env: Setup) -> None:
    backend, clock, room = env
    await room(closes_at=OPENS_AT + timedelta(seconds=100))
    await open_room(backend, clock)
    config = await backend.room_config(ROOM)
    settings = config.saved_settings()
    moved = pyqueue.RoomConfig.saved({**settings, "opens_at": "2021-05-10T04:59:00+00:00"})
    with pytest.raises(pyqueue.InvalidConfig, match="cannot change after the room opened"):
        await backend.update_room(moved, "anna")
    clock.advance(100)
    await backend.tick(ROOM)
    reopened = pyqueue.RoomConfig.saved({**settings, "closes_at": None})
    with pytest.raises(pyqueue.InvalidConfig, match="a closed room cannot be reopened"):
        await backend.update_room(reopened, "anna")


async def test_windows_missed_between_ticks_release_once(env: Setup) -> None:
    backend, clock, room = env
    await room(release_windows=["Mon-Fri 07:00", "Mon-Fri 17:00"], timezone="Europe/Berlin")
    await slots(backend, 2)
    (a,) = await admitted_passes(backend, clock, 1)
    await book_and_cancel(backend, a, "s0")
    # No tick from Monday 07:00 until Tuesday 07:30: the 17:00 and 07:00 windows were missed.
    clock.set(OPENS_AT + timedelta(days=1, minutes=30))
    assert (await backend.tick(ROOM)).released == 1
    clock.advance(60)
    assert (await backend.tick(ROOM)).released == 0
    log = await backend.audit_log(ROOM)
    releases = [(e.at, e.count) for e in log if e.action == "release" and e.at > OPENS_AT]
    assert releases == [(OPENS_AT + timedelta(days=1, minutes=30), 1)]


async def test_confirming_again_ends_the_session_once_the_allowance_is_used(env: Setup) -> None:
    backend, clock, room = env
    await room(max_bookings_per_identity=2)
    await slots(backend, 2)
    (a,) = await admitted_passes(backend, clock, 1)
    await backend.hold(ROOM, "s0", a)
    await backend.confirm(ROOM, "s0", a)
    await backend.hold(ROOM, "s1", a)
    await backend.confirm(ROOM, "s0", a)  # asked again: the hold on s1 counts now
    with pytest.raises(pyqueue.SessionEnded):
        await backend.verify_pass(ROOM, a)


# ----- the wait estimate ------------------------------------------------------------------------


async def test_the_wait_estimate_knows_when_the_booking_site_is_full(env: Setup) -> None:
    """Both backends estimate from the same counters with the core's one estimator: 20 places,
    sessions that complete 4 s after the visitor learns of the turn (at the next poll, a
    second apart), so the line moves at about 20 every 4.5 s, not at the 10 a second set."""
    backend, clock, room = env
    await room(max_active=20, session_seconds=600)
    tickets = [(await backend.join(ROOM, None, None)).token for _ in range(500)]
    clock.set(OPENS_AT)
    sessions: dict[str, tuple[float, str]] = {}
    done: set[str] = set()
    first: list[pyqueue.Status] = []
    for step in range(180):
        now = step * 0.5
        await backend.tick(ROOM)
        for token in tickets:
            if token in sessions or step % 2:
                continue  # polls once a second
            status = await backend.status(ROOM, token)
            if status.state == "admitted" and status.pass_token is not None:
                sessions[token] = (now, status.pass_token)
            elif step == 0:
                first.append(status)
        for token, (at, pass_token) in sessions.items():
            if token not in done and now >= at + 4:
                await backend.complete(ROOM, pass_token)
                done.add(token)
        clock.advance(0.5)
    # At the opening the first 20 go into free places at the rate; for those behind them,
    # nothing is measured yet.
    assert all(s.eta.reason == ("rate" if (s.ahead or 0) < 20 else "measuring") for s in first)
    now_of = {t: await backend.status(ROOM, t) for t in tickets}
    token, last = max(now_of.items(), key=lambda item: item[1].ahead or 0)
    assert last.ahead is not None and last.ahead >= 100
    assert (last.eta.reason, last.eta.known) == ("capacity", True)
    assert last.eta.seconds == pytest.approx((last.ahead + 1) / (20 / 4.5), rel=0.15)
    await backend.pause(ROOM, "anna")
    paused = await backend.status(ROOM, token)
    assert (paused.eta.reason, paused.eta.known) == ("paused", False)
