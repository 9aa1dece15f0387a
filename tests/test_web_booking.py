"""The booking pages, in process: the picker by centre and day, the hold and its clock, the
race for one slot, confirming, the code, cancelling by code, and waiting-list offers."""

from __future__ import annotations

import re

import pytest
from page_support import ClientFactory, Site, Visitor, form_actions, heading, make_site, room, slots

TWO_CENTRES = [
    *slots("Kiel Ostseehalle", "2021-05-12", ["08:00", "08:30", "09:00"], "k"),
    *slots("Kiel Ostseehalle", "2021-05-13", ["08:00"], "m"),
    *slots("Lübeck Musik- und Kongresshalle", "2021-05-12", ["10:00"], "l"),
]
CODE = re.compile(r'id="pq-code">([0-9A-Z]{5}-[0-9A-Z]{5})<')


@pytest.fixture
async def site(aiohttp_client: ClientFactory) -> Site:
    return await make_site(aiohttp_client, [room(slots=TWO_CENTRES, hold_seconds=300)])


async def _admitted(site: Site, count: int = 1) -> list[Visitor]:
    visitors = [site.visitor() for _ in range(count)]
    for visitor in visitors:
        await visitor.get("/rooms/kiel")
    await site.advance(600)
    for _ in range(count):
        await site.advance(1)
    for visitor in visitors:
        assert (await visitor.get("/rooms/kiel")).view == "admitted"
    return visitors


async def test_booking_needs_the_turn(site: Site) -> None:
    visitor = site.visitor()
    await visitor.get("/rooms/kiel")
    page = await visitor.get("/rooms/kiel/book")
    assert page.status == 403
    assert page.h1 == "Die Buchung ist für Sie (noch) nicht offen"
    assert 'href="/rooms/kiel"' in page.text


async def test_the_picker_shows_free_slots_by_centre_and_day(site: Site) -> None:
    (visitor,) = await _admitted(site)
    page = await visitor.get("/rooms/kiel/book")
    assert page.view == "picker"
    assert '<h3 class="centre">Kiel Ostseehalle</h3>' in page.text
    assert '<h3 class="centre">Lübeck Musik- und Kongresshalle</h3>' in page.text
    assert "Mi., 12. Mai 2021 <small>3 frei</small>" in page.text
    assert "Do., 13. Mai 2021 <small>1 frei</small>" in page.text
    assert 'data-on-zero="reload"' in page.text  # the booking time's clock
    day = await visitor.get("/rooms/kiel/book?group=Kiel+Ostseehalle+2021-05-12")
    assert "Freie Zeiten in Kiel Ostseehalle am Mi., 12. Mai 2021" in day.text
    assert form_actions(day.text) == [
        "/rooms/kiel/book/k0/hold",
        "/rooms/kiel/book/k1/hold",
        "/rooms/kiel/book/k2/hold",
    ]
    assert 'aria-label="Mi., 12. Mai 2021, 08:00 Uhr reservieren"' in day.text
    # The list of times names their time zone once.
    assert "Die Zeiten sind Ortszeit Europe/Berlin." in day.text


async def test_many_slots_come_in_pages(aiohttp_client: ClientFactory) -> None:
    times = [f"{h:02d}:{m:02d}" for h in range(8, 18) for m in (0, 20, 40)]
    site = await make_site(aiohttp_client, [room(slots=slots("Kiel", "2021-05-12", times))])
    (visitor,) = await _admitted(site)
    first = await visitor.get("/rooms/kiel/book?group=Kiel+2021-05-12")
    assert len(form_actions(first.text)) == 24
    assert "offset=24" in first.text
    second = await visitor.get("/rooms/kiel/book?group=Kiel+2021-05-12&offset=24")
    assert len(form_actions(second.text)) == len(times) - 24
    assert "offset=0" in second.text


async def test_hold_then_confirm_shows_the_code_large(site: Site) -> None:
    (visitor,) = await _admitted(site)
    held = await visitor.post("/rooms/kiel/book/k1/hold", {"group": "Kiel Ostseehalle 2021-05-12"})
    assert held.status == 303
    assert held.headers["Location"] == "/rooms/kiel/book/k1"
    page = await visitor.follow(held)
    assert page.view == "hold"
    assert page.h1 == "Dieser Termin ist für Sie reserviert"
    assert 'data-countdown="300.0" data-on-zero="expire"' in page.text
    assert "Mi., 12. Mai 2021, 08:30 Uhr" in page.text
    # Back in the picker, the hold comes first.
    again = await visitor.get("/rooms/kiel/book")
    assert again.status == 303 and again.headers["Location"] == "/rooms/kiel/book/k1"
    booked = await visitor.post("/rooms/kiel/book/k1/confirm")
    assert booked.status == 303
    code_page = await visitor.follow(booked)
    assert code_page.view == "booking"
    match = CODE.search(code_page.text)
    assert match
    assert code_page.h1 == "Gebucht!"
    assert f'href="/rooms/kiel/cancel?code={match.group(1)}"' in code_page.text
    # The waiting room now says done, and keeps the code at hand.
    done = await visitor.get("/rooms/kiel")
    assert done.view == "completed"
    assert f"/rooms/kiel/bookings/{match.group(1)}" in done.text


async def test_a_slot_taken_meanwhile_shows_the_alternatives_at_once(site: Site) -> None:
    first, second = await _admitted(site, 2)
    group = {"group": "Kiel Ostseehalle 2021-05-12"}
    assert (await first.post("/rooms/kiel/book/k0/hold", group)).status == 303
    lost = await second.post("/rooms/kiel/book/k0/hold", group)
    assert lost.status == 409
    assert lost.view == "picker"
    assert "Dieser Termin wurde gerade vergeben" in lost.text
    assert "noch frei" in lost.text and "Kiel Ostseehalle am Mi., 12. Mai 2021" in lost.text
    taken = lost.text[lost.text.index('class="card taken"') : lost.text.index("</section>")]
    assert form_actions(taken) == ["/rooms/kiel/book/k1/hold", "/rooms/kiel/book/k2/hold"]
    assert "data-focus" in taken
    # One of them, at once.
    assert (await second.post("/rooms/kiel/book/k1/hold", group)).status == 303


async def test_a_second_hold_leads_back_to_the_first(site: Site) -> None:
    (visitor,) = await _admitted(site)
    await visitor.post("/rooms/kiel/book/k0/hold")
    other = await visitor.post("/rooms/kiel/book/k2/hold")
    assert other.status == 303 and other.headers["Location"] == "/rooms/kiel/book/k0"


async def test_giving_a_hold_back_frees_the_slot(site: Site) -> None:
    (visitor,) = await _admitted(site)
    group = {"group": "Kiel Ostseehalle 2021-05-12"}
    await visitor.post("/rooms/kiel/book/k0/hold", group)
    back = await visitor.post("/rooms/kiel/book/k0/release", group)
    assert back.status == 303
    assert back.headers["Location"] == "/rooms/kiel/book?group=Kiel+Ostseehalle+2021-05-12#pq-slots"
    picker = await visitor.follow(back)
    assert "/rooms/kiel/book/k0/hold" in form_actions(picker.text)
    assert "pyqueue_hold_kiel" not in visitor.cookies


async def test_an_expired_hold_cannot_be_confirmed(site: Site) -> None:
    (visitor,) = await _admitted(site)
    await visitor.post("/rooms/kiel/book/k0/hold", {"group": "Kiel Ostseehalle 2021-05-12"})
    await site.advance(301)
    page = await visitor.post("/rooms/kiel/book/k0/confirm")
    assert page.status == 409
    assert "Die Reservierung ist abgelaufen" in page.text
    assert page.view == "picker"


async def test_when_the_booking_time_is_over_the_picker_says_so(
    aiohttp_client: ClientFactory,
) -> None:
    site = await make_site(aiohttp_client, [room(slots=TWO_CENTRES, session_seconds=120)])
    (visitor,) = await _admitted(site)
    await site.advance(200)
    page = await visitor.get("/rooms/kiel/book")
    assert page.status in (403, 410)
    assert page.view == "message"
    assert page.h1 in (
        "Ihre Zeit zum Buchen ist abgelaufen",
        "Die Buchung ist für Sie (noch) nicht offen",
    )


async def test_cancel_by_code_on_its_own_page(site: Site) -> None:
    (visitor,) = await _admitted(site)
    await visitor.post("/rooms/kiel/book/k0/hold")
    code_page = await visitor.follow(await visitor.post("/rooms/kiel/book/k0/confirm"))
    match = CODE.search(code_page.text)
    assert match
    code = match.group(1)

    stranger = site.visitor(lang="en")
    form = await stranger.get("/rooms/kiel/cancel")
    assert form.view == "cancel" and 'name="code"' in form.text
    unknown = await stranger.get("/rooms/kiel/cancel?code=AAAAA-BBBBB")
    assert unknown.status == 404 and "No booking with this code" in unknown.text
    confirm = await stranger.get(f"/rooms/kiel/cancel?code={code.lower()}")
    assert confirm.view == "cancel-confirm"
    assert "Wed 12 May 2021, 08:00" in confirm.text
    done = await stranger.follow(await stranger.post("/rooms/kiel/cancel", {"code": code}))
    assert done.view == "cancelled"
    assert heading(done.text) == "Your booking is cancelled"
    assert (await site.backend.availability("kiel"))[0].booked == 0
    # The code answers with the cancellation, not as if it never existed.
    gone = await stranger.get(f"/rooms/kiel/bookings/{code}")
    assert gone.view == "booking-cancelled" and gone.status == 200
    assert heading(gone.text) == "This booking is cancelled"
    assert "Cancelled on Mon 10 May 2021, " in gone.text and code in gone.text
    again = await stranger.get(f"/rooms/kiel/cancel?code={code}")
    assert again.view == "booking-cancelled"


async def test_a_waiting_list_offer_can_be_accepted_or_declined(
    aiohttp_client: ClientFactory,
) -> None:
    one_slot = slots("Kiel Ostseehalle", "2021-05-12", ["08:00"])
    site = await make_site(
        aiohttp_client,
        [room(returned_slots="waitlist", slots=one_slot, max_active=1, offer_seconds=600)],
    )
    people = [site.visitor() for _ in range(3)]
    for number, visitor in enumerate(people):
        await visitor.follow(await visitor.post("/rooms/kiel", {"identity": f"REG-{number}"}))
    await site.advance(601)
    views = {id(v): (await v.get("/rooms/kiel")).view for v in people}
    booker = next(v for v in people if views[id(v)] == "admitted")
    await booker.post("/rooms/kiel/book/s0/hold")
    code_page = await booker.follow(await booker.post("/rooms/kiel/book/s0/confirm"))
    match = CODE.search(code_page.text)
    assert match
    await booker.post("/rooms/kiel/cancel", {"code": match.group(1)})
    await site.advance(1)

    offered = []
    for visitor in people:
        if visitor is booker:
            continue
        page = await visitor.get("/rooms/kiel")
        if "pq-offer-title" in page.text:
            offered.append((visitor, page))
    assert len(offered) == 1
    visitor, page = offered[0]
    assert "Ihnen wird ein Termin angeboten" in page.text
    assert page.data["key"].endswith("|s0")
    assert {"/rooms/kiel/offer/accept", "/rooms/kiel/offer/decline"} <= set(form_actions(page.text))
    declined = await visitor.follow(await visitor.post("/rooms/kiel/offer/decline"))
    assert "pq-offer-title" not in declined.text

    await site.advance(1)
    for other in people:
        if other in (booker, visitor):
            continue
        page = await other.get("/rooms/kiel")
        assert "pq-offer-title" in page.text
        accepted = await other.post("/rooms/kiel/offer/accept", {"slot": "s0"})
        assert accepted.status == 303
        assert accepted.headers["Location"].startswith("/rooms/kiel/bookings/")
        booked = await other.follow(accepted)
        assert CODE.search(booked.text)
