"""The waiting-room page, in process: each state's view, the language, joining safely from a
GET, the no-JavaScript refresh, and the answers a browser must get instead of JSON."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from aiohttp import web
from page_support import (
    NOW,
    OPENS_AT,
    ClientFactory,
    Page,
    Site,
    Visitor,
    form_actions,
    make_site,
    room,
    slots,
)

import pyqueue
from pyqueue.config import ConfigError
from pyqueue.server.page import routes as page_routes
from pyqueue.server.page_http import PAGES
from pyqueue.web.appearance import look_from_mapping


@pytest.fixture
async def site(aiohttp_client: ClientFactory) -> Site:
    return await make_site(aiohttp_client, [room()])


async def test_before_opening_a_visitor_sees_the_countdown_and_why_early_gives_nothing(
    site: Site,
) -> None:
    page = await site.visitor().get("/rooms/kiel")
    assert page.status == 200
    assert page.view == "prequeue"
    assert page.headers["Content-Language"] == "de"
    assert 'data-countdown="600.0"' in page.text
    assert "10:00" in page.text  # the clock's face
    assert "zufällig ausgelost" in page.text and "keinen Vorteil" in page.text
    assert "Mo., 10. Mai 2021, 07:00 Uhr" in page.text
    # Without JavaScript the page reloads itself at the interval the server asks for.
    poll_ms = page.data["status"]["poll_after_ms"]
    refresh = f'<noscript><meta http-equiv="refresh" content="{math.ceil(poll_ms / 1000)}">'
    assert refresh in page.text
    assert page.data["statusUrl"] == "/v1/rooms/kiel/status"
    assert "pass" not in page.data["status"]


async def test_a_fifo_room_does_not_promise_a_draw(aiohttp_client: ClientFactory) -> None:
    site = await make_site(aiohttp_client, [room(prequeue="fifo")])
    page = await site.visitor().get("/rooms/kiel")
    assert "Reihenfolge ihrer Ankunft" in page.text
    assert "ausgelost" not in page.text


async def test_reloading_keeps_the_place_and_joins_nobody_new(site: Site) -> None:
    visitor = site.visitor()
    first = await visitor.get("/rooms/kiel")
    again = await visitor.get("/rooms/kiel")
    assert again.data["status"]["ticket_id"] == first.data["status"]["ticket_id"]
    other = await site.visitor().get("/rooms/kiel")
    assert other.data["status"]["ticket_id"] != first.data["status"]["ticket_id"]
    info = await site.backend.room_info("kiel")
    assert info.counters["joined"] == 2


async def test_after_opening_the_place_the_wait_range_and_the_progress(site: Site) -> None:
    visitors = [site.visitor() for _ in range(30)]
    for visitor in visitors:
        await visitor.get("/rooms/kiel")
    await site.advance(600)
    pages = [await visitor.get("/rooms/kiel") for visitor in visitors]
    waiting = [p for p in pages if p.view == "waiting"]
    assert waiting
    last = max(waiting, key=lambda p: p.data["status"]["ahead"])
    status = last.data["status"]
    ahead = status["ahead"]
    assert ahead > 10
    assert f'id="pq-place">{ahead + 1}</strong>' in last.text
    assert f"{ahead} Personen sind vor Ihnen." in last.text
    assert re.search(
        r'id="pq-eta">(etwa \d+(\N{EN DASH}\d+)? Minuten?|weniger als eine Minute)<', last.text
    )
    assert 'aria-live="polite"' in last.text
    assert f'<progress id="pq-progress" max="{status["ahead_at_start"]}"' in last.text
    assert "Zuletzt aktualisiert:" in last.text
    assert "Neu laden behält Ihren Platz" in last.text
    assert "Ein zweites Gerät hilft nicht" in last.text
    assert last.data["key"] == "waiting|false|"


async def test_german_first_english_when_preferred(site: Site) -> None:
    cases = {
        "de-DE,de;q=0.9,en;q=0.8": "de",
        "en-US,en;q=0.9": "en",
        "en-GB,en;q=0.9,de;q=0.8": "en",
        "fr-FR,fr;q=0.9": "de",
        "fr;q=0.9,en;q=0.5": "en",
        "en;q=0.5,de;q=0.8": "de",
        "": "de",
    }
    for header, lang in cases.items():
        page = await site.visitor(lang=header).get("/rooms/kiel")
        assert f'<html lang="{lang}">' in page.text, header
    english = await site.visitor(lang="en-US").get("/rooms/kiel")
    assert english.h1 == "You are registered \N{EN DASH} the queue opens soon"
    assert "Coming earlier gives no advantage" in english.text


async def test_a_language_chosen_by_hand_sticks(site: Site) -> None:
    visitor = site.visitor(lang="de-DE")
    page = await visitor.get("/rooms/kiel?lang=en")
    assert '<html lang="en">' in page.text
    assert visitor.cookies["pyqueue_lang"] == "en"
    page = await visitor.get("/rooms/kiel")
    assert '<html lang="en">' in page.text
    assert 'href="/rooms/kiel?lang=de" hreflang="de"' in page.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Purpose": "prefetch;prerender"},
        {"Purpose": "prefetch"},
        {"User-Agent": "WhatsApp/2.23"},
        {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"},
    ],
)
async def test_prefetches_and_link_previews_join_nobody(
    site: Site, headers: dict[str, str]
) -> None:
    visitor = site.visitor()
    page = await visitor.get("/rooms/kiel", headers=headers)
    assert page.view == "landing"
    assert "pyqueue_ticket_kiel" not in visitor.cookies
    assert "/rooms/kiel" in form_actions(page.text)
    info = await site.backend.room_info("kiel")
    assert info.counters["joined"] == 0
    async with site.client.head("/rooms/kiel", headers={"User-Agent": "Mozilla/5.0"}) as head:
        assert head.status == 200
    assert (await site.backend.room_info("kiel")).counters["joined"] == 0
    # The landing's button joins with a POST.
    joined = await visitor.post("/rooms/kiel", headers={"User-Agent": "Mozilla/5.0"})
    assert joined.status == 303 and "pyqueue_ticket_kiel" in visitor.cookies


async def test_a_room_that_requires_a_code_asks_for_it_and_the_code_is_only_a_label(
    aiohttp_client: ClientFactory,
) -> None:
    site = await make_site(aiohttp_client, [room(identity="required")])
    phone, laptop = site.visitor(), site.visitor()
    form = await phone.get("/rooms/kiel")
    assert form.view == "identity"
    assert "pyqueue_ticket_kiel" not in phone.cookies
    # The form promises nothing the code cannot keep: anyone may type anyone's code.
    assert "der Platz selbst bleibt in diesem Browser" in form.text
    assert "denselben Platz" not in form.text
    blank = await phone.post("/rooms/kiel", {"identity": "   "})
    assert blank.status == 400 and 'aria-invalid="true"' in blank.text
    on_phone = await phone.follow(await phone.post("/rooms/kiel", {"identity": "REG-4711"}))
    on_laptop = await laptop.follow(await laptop.post("/rooms/kiel", {"identity": "REG-4711"}))
    assert on_phone.view == on_laptop.view == "prequeue"
    assert on_phone.data["status"]["ticket_id"] != on_laptop.data["status"]["ticket_id"]
    # Before the draw, each browser is a draw of its own, and the page says so.
    assert "mit einem eigenen Platz an der Auslosung teil" in on_laptop.text
    assert "genau diesen Platz" not in on_laptop.text


async def test_a_second_device_is_described_as_it_is_before_and_after_the_draw(
    aiohttp_client: ClientFactory,
) -> None:
    for prequeue, before in (
        ("shuffle", "Every device that joins before the opening takes part in the draw"),
        ("fifo", "A second device gets a place of its own behind everyone who is here before"),
    ):
        site = await make_site(aiohttp_client, [room(prequeue=prequeue)])
        visitor = site.visitor(lang="en")
        early = await visitor.get("/rooms/kiel")
        assert early.view == "prequeue"
        assert before in early.text
        # Untrue before the draw, where a second device is another place in it.
        assert "only get a new place at the end" not in early.text
        await site.advance(600)
        late = await site.visitor(lang="en").get("/rooms/kiel")
        assert late.view == "waiting"
        assert "A second device does not help: it would only get a new place at the end" in (
            late.text
        )


async def test_leaving_before_the_draw_offers_the_draw_again(site: Site) -> None:
    visitor = site.visitor()
    await visitor.get("/rooms/kiel")
    ticket = visitor.cookies["pyqueue_ticket_kiel"]
    status, _ = await visitor.api("POST", "/v1/rooms/kiel/leave")
    assert status == 200
    visitor.cookies["pyqueue_ticket_kiel"] = ticket  # another tab still holds the ticket
    page = await visitor.get("/rooms/kiel")
    assert page.view == "left"
    assert "Bis zur Öffnung nehmen Sie wieder an der Auslosung teil" in page.text
    assert "am Ende" not in page.text


async def test_a_fifo_room_that_is_not_open_yet_promises_no_draw(
    aiohttp_client: ClientFactory,
) -> None:
    opens = (NOW + timedelta(minutes=5)).isoformat()
    site = await make_site(aiohttp_client, [room(prequeue="fifo", prequeue_opens_at=opens)])
    page = await site.visitor().get("/rooms/kiel")
    assert page.view == "not-open"
    assert "in der Reihenfolge der Ankunft" in page.text and "ausgelost" not in page.text


async def test_forms_from_other_sites_are_refused(site: Site) -> None:
    visitor = site.visitor()
    page = await visitor.post("/rooms/kiel", headers={"Origin": "https://evil.example"})
    assert page.status == 403
    assert "nicht von dieser Seite" in page.text
    assert "pyqueue_ticket_kiel" not in visitor.cookies


async def test_the_turn_with_its_clock_and_the_way_to_booking(site: Site) -> None:
    visitor = site.visitor()
    await visitor.get("/rooms/kiel")
    await site.advance(601)
    page = await visitor.get("/rooms/kiel")
    assert page.view == "admitted"
    assert page.h1 == "Sie sind dran!"
    assert 'href="/rooms/kiel/book" id="pq-go"' in page.text
    assert 'data-sync="pass_expires_in_seconds"' in page.text
    assert "pyqueue_pass_kiel" in visitor.cookies


async def test_the_turn_sends_on_to_the_portal_when_it_has_a_handoff_url(
    aiohttp_client: ClientFactory,
) -> None:
    site = await make_site(
        aiohttp_client, [room(handoff_url="https://portal.example/booking?from=queue")]
    )
    visitor = site.visitor(lang="en")
    await visitor.get("/rooms/kiel")
    await site.advance(601)
    page = await visitor.get("/rooms/kiel")
    assert page.view == "admitted"
    handoff = page.data["status"]["handoff_url"]
    assert handoff.startswith("https://portal.example/booking?from=queue&pass=")
    assert 'content="10;url=https://portal.example/booking?from=queue&amp;pass=' in page.text
    assert 'data-on-zero="handoff"' in page.text
    assert "Continue to booking" in page.text


async def test_paused_is_its_own_message_and_the_place_is_kept(site: Site) -> None:
    visitors = [site.visitor() for _ in range(3)]
    for visitor in visitors:
        await visitor.get("/rooms/kiel")
    await site.backend.pause("kiel", "operator")
    await site.advance(601)
    page = await visitors[-1].get("/rooms/kiel")
    assert page.view == "waiting"
    assert page.h1 == "Die Warteschlange ist angehalten"
    assert "Ihr Platz bleibt erhalten" in page.text
    assert page.data["key"] == "waiting|true|"


async def _sell_out(site: Site, visitors: list[Visitor]) -> list[Page]:
    """Opens the room, lets the one admitted visitor book its only slot; the others' pages."""
    for visitor in visitors:
        await visitor.get("/rooms/kiel")
    await site.advance(601)  # opening, and one second's worth of admissions
    pages = []
    for visitor in visitors:
        page = await visitor.get("/rooms/kiel")
        if page.view == "admitted":
            hold = await visitor.post("/rooms/kiel/book/s0/hold")
            assert hold.status == 303, hold.text[:300]
            await visitor.post("/rooms/kiel/book/s0/confirm")
        else:
            pages.append(page)
    assert (await site.backend.room_info("kiel")).state == "sold_out"
    return [
        await v.get("/rooms/kiel")
        for v in visitors
        if v.cookies.get("pyqueue_booking_kiel") is None
    ]


async def test_sold_out_says_when_returned_slots_come_back(aiohttp_client: ClientFactory) -> None:
    one_slot = slots("Kiel Ostseehalle", "2021-05-12", ["08:00"])
    site = await make_site(
        aiohttp_client,
        [room(release_windows=["Mon-Fri 17:00"], slots=one_slot, max_active=1)],
    )
    pages = await _sell_out(site, [site.visitor() for _ in range(3)])
    assert pages and all(p.view == "waiting" for p in pages)
    assert pages[0].h1 == "Alle Termine sind vergeben"
    assert "Mo., 10. Mai 2021, 17:00 Uhr" in pages[0].text
    assert 'id="pq-place">' in pages[0].text  # the place is still shown


async def test_sold_out_in_a_waiting_list_room_says_to_stay(aiohttp_client: ClientFactory) -> None:
    one_slot = slots("Kiel Ostseehalle", "2021-05-12", ["08:00"])
    site = await make_site(
        aiohttp_client, [room(returned_slots="waitlist", slots=one_slot, max_active=1)]
    )
    pages = await _sell_out(site, [site.visitor(lang="en") for _ in range(3)])
    assert pages[0].h1 == "All appointments are booked"
    assert "offered automatically to the next person" in pages[0].text


async def test_a_closed_room_explains_itself(aiohttp_client: ClientFactory) -> None:
    opened = NOW - timedelta(hours=3)
    site = await make_site(
        aiohttp_client,
        [room(opens_at=opened.isoformat(), closes_at=(NOW - timedelta(hours=1)).isoformat())],
    )
    visitor = site.visitor()
    page = await visitor.get("/rooms/kiel")
    assert page.view == "closed"
    assert page.h1 == "Der Warteraum ist geschlossen"
    assert "pyqueue_ticket_kiel" not in visitor.cookies


async def test_before_the_pre_queue_opens_nothing_is_joined(aiohttp_client: ClientFactory) -> None:
    site = await make_site(
        aiohttp_client,
        [room(prequeue_opens_at=(NOW + timedelta(minutes=5)).isoformat())],
    )
    visitor = site.visitor()
    page = await visitor.get("/rooms/kiel")
    assert page.view == "not-open"
    # The clock counts to the queue's opening, which the text under it names; when joining
    # opens is said in words, and the page reloads itself to join then.
    assert 'data-countdown="600.0"' in page.text
    assert "Die Warteschlange öffnet in" in page.text
    assert "ab Mo., 10. Mai 2021, 06:55 Uhr (Europe/Berlin), in etwa 5 Minuten." in page.text
    assert "pyqueue_ticket_kiel" not in visitor.cookies
    assert '<meta http-equiv="refresh" content="75">' in page.text


async def test_an_expired_turn_offers_a_new_place(aiohttp_client: ClientFactory) -> None:
    site = await make_site(aiohttp_client, [room(session_seconds=120)])
    visitor = site.visitor()
    first = await visitor.get("/rooms/kiel")
    await site.advance(601)
    assert (await visitor.get("/rooms/kiel")).view == "admitted"
    await site.advance(121)
    page = await visitor.get("/rooms/kiel")
    assert page.view == "expired"
    assert "/rooms/kiel/rejoin" in form_actions(page.text)
    assert "pyqueue_ticket_kiel" in visitor.cookies
    again = await visitor.follow(await visitor.post("/rooms/kiel/rejoin"))
    assert again.view in ("waiting", "admitted")
    assert again.data["status"]["ticket_id"] != first.data["status"]["ticket_id"]


async def test_a_stale_cookie_gets_a_new_place_instead_of_an_error(site: Site) -> None:
    visitor = site.visitor()
    visitor.cookies["pyqueue_ticket_kiel"] = "k9.not-a-ticket.at-all"
    page = await visitor.get("/rooms/kiel")
    assert page.view == "prequeue"
    assert visitor.cookies["pyqueue_ticket_kiel"] != "k9.not-a-ticket.at-all"


async def test_unknown_rooms_and_errors_are_pages_not_json(site: Site) -> None:
    page = await site.visitor().get("/rooms/nowhere")
    assert page.status == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.h1 == "Warteraum nicht gefunden"


async def test_pages_carry_their_security_headers(site: Site) -> None:
    page = await site.visitor().get("/rooms/kiel")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text


async def test_static_files_are_versioned_and_theme_is_per_room(
    aiohttp_client: ClientFactory,
) -> None:
    site = await make_site(aiohttp_client, [room()])
    page = await site.visitor().get("/rooms/kiel")
    script = re.search(r'src="(/pyqueue/static/page\.js\?v=[0-9a-f]+)"', page.text)
    assert script
    async with site.client.get(script.group(1)) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/javascript")
        assert "immutable" in answer.headers["Cache-Control"]
    async with site.client.get("/pyqueue/static/page.css?v=old") as answer:
        assert answer.status == 200 and "immutable" not in answer.headers["Cache-Control"]
    async with site.client.get("/pyqueue/static/../config.py") as answer:
        assert answer.status == 404
    async with site.client.get("/rooms/kiel/theme.css") as answer:
        css = await answer.text()
        assert "--pq-accent:" in css and "--pq-on-accent: #ffffff" in css


async def test_a_room_shows_its_own_title_logo_and_colours(site: Site) -> None:
    look = look_from_mapping(
        {
            "title": {"de": "Impftermine Kiel", "en": "Vaccination appointments Kiel"},
            "intro": {"de": "Termine im Impfzentrum Ostseehalle."},
            "logo_url": "https://portal.example/logo.svg",
            "logo_alt": "Landeshauptstadt Kiel",
            "help_url": "https://portal.example/faq",
            "accent_color": "#ffcc00",
        }
    )
    site.app[PAGES].looks["kiel"] = look
    page = await site.visitor().get("/rooms/kiel")
    assert "<title>Sie sind angemeldet" in page.text and "Impftermine Kiel</title>" in page.text
    assert '<img class="logo" src="https://portal.example/logo.svg"' in page.text
    assert 'alt="Landeshauptstadt Kiel"' in page.text
    assert 'href="https://portal.example/faq"' in page.text
    english = await site.visitor(lang="en").get("/rooms/kiel")
    assert "Vaccination appointments Kiel</p>" in english.text
    assert "Termine im Impfzentrum Ostseehalle." in english.text  # the only language given
    theme = re.search(r'href="(/rooms/kiel/theme\.css\?v=[0-9a-f]+)"', page.text)
    assert theme
    async with site.client.get(theme.group(1)) as answer:
        css = await answer.text()
    # Yellow takes dark text, and is darkened where it is used as text on white.
    assert "--pq-accent: #ffcc00;" in css and "--pq-on-accent: #111111;" in css
    assert "--pq-accent-text: #ffcc00;" not in css


def test_room_looks_come_from_the_rooms_page_tables() -> None:
    config = pyqueue.RoomConfig("kiel", OPENS_AT)
    settings = SimpleNamespace(
        rooms=[SimpleNamespace(config=config, page={"title": "Kiel", "accent_color": "#003366"})]
    )
    app = web.Application()
    table = page_routes(app, settings)  # type: ignore[arg-type]
    assert any(route.path == "/rooms/{room}" for route in table)
    assert app[PAGES].look("kiel").text("title", "en") == "Kiel"
    assert app[PAGES].look("elsewhere") == look_from_mapping({})
    bad = SimpleNamespace(rooms=[SimpleNamespace(config=config, page={"accent_color": "red"})])
    with pytest.raises(ConfigError, match=re.escape("room 'kiel'.page.accent_color")):
        page_routes(web.Application(), bad)  # type: ignore[arg-type]


async def test_the_join_rate_limit_answers_with_a_page_that_retries(
    aiohttp_client: ClientFactory,
) -> None:
    site = await make_site(aiohttp_client, [room()], join_rate_per_minute=1.0, join_rate_burst=1)
    assert (await site.visitor().get("/rooms/kiel")).view == "prequeue"
    page = await site.visitor().get("/rooms/kiel")
    assert page.status == 429
    assert page.headers["Retry-After"].isdigit()
    assert '<meta http-equiv="refresh" content="30">' in page.text
