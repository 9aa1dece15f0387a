"""Languages, phrasing and the room's own look, without a server."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pyqueue.config import ConfigError
from pyqueue.web.appearance import (
    MIN_CONTRAST,
    PageLook,
    contrast,
    darkened_for,
    look_from_mapping,
    readable_on,
    theme_css,
)
from pyqueue.web.html import PageContext, document, esc, json_for_script
from pyqueue.web.i18n import LANGUAGES, negotiate, texts
from pyqueue.web.promises import limit_key
from pyqueue.web.views import RoomFacts, not_open_yet, waiting_room

TEXTS = Path(__file__).resolve().parents[1] / "pyqueue" / "web" / "texts"


def test_both_languages_have_the_same_texts_and_placeholders() -> None:
    loaded = {lang: json.loads((TEXTS / f"{lang}.json").read_text("utf-8")) for lang in LANGUAGES}
    de, en = loaded["de"]["strings"], loaded["en"]["strings"]
    assert de.keys() == en.keys()
    for key in de:
        assert set(re.findall(r"\{(\w+)\}", de[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


@pytest.mark.parametrize(
    ("header", "chosen", "lang"),
    [
        (None, None, "de"),
        ("en", None, "en"),
        ("en-US,en;q=0.9,de;q=0.8", None, "en"),
        ("de-AT", None, "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", None, "en"),
        ("*", None, "de"),
        ("en;q=0", None, "de"),
        ("en;q=nonsense", None, "de"),
        ("en-US", "de", "de"),
        ("de-DE", "en", "en"),
        ("de-DE", "xx", "de"),
    ],
)
def test_negotiate(header: str | None, chosen: str | None, lang: str) -> None:
    assert negotiate(header, chosen) == lang


@pytest.mark.parametrize(
    ("low", "high", "de", "en"),
    [
        (0, 20, "weniger als eine Minute", "less than a minute"),
        (40, 70, "etwa 1\N{EN DASH}2 Minuten", "about 1\N{EN DASH}2 minutes"),
        (60, 60, "etwa 1 Minute", "about 1 minute"),
        (720, 900, "etwa 12\N{EN DASH}15 Minuten", "about 12\N{EN DASH}15 minutes"),
        (600, 600, "etwa 10 Minuten", "about 10 minutes"),
        (6000, 9500, "etwa 1,5\N{EN DASH}3 Stunden", "about 1.5\N{EN DASH}3 hours"),
        (5400, 5400, "etwa 1,5 Stunden", "about 1.5 hours"),
    ],
)
def test_the_wait_is_a_range_in_words(low: float, high: float, de: str, en: str) -> None:
    assert texts("de").wait(low, high) == de
    assert texts("en").wait(low, high) == en


def test_numbers_clocks_and_days() -> None:
    de, en = texts("de"), texts("en")
    assert de.number(1234567) == "1.234.567" and en.number(1234567) == "1,234,567"
    assert de.ahead(0) == "Sie sind als Nächstes dran."
    assert en.ahead(1) == "1 person is ahead of you."
    assert en.ahead(1500) == "1,500 people are ahead of you."
    assert de.clock(3725) == "1:02:05" and de.clock(65.2) == "01:06" and de.clock(-3) == "00:00"
    from datetime import UTC, datetime

    when = datetime(2021, 5, 12, 6, 30, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert de.moment(when, berlin) == "Mi., 12. Mai 2021, 08:30 Uhr (Europe/Berlin)"
    assert en.moment(when, berlin) == "Wed 12 May 2021, 08:30 (Europe/Berlin)"
    assert en.moment(when, ZoneInfo("UTC")) == "Wed 12 May 2021, 06:30 (UTC)"
    assert de.moment(when, berlin, named=False) == "Mi., 12. Mai 2021, 08:30 Uhr"
    # From a day on, a countdown says the days in words, not "636:19:18".
    assert en.clock(2290758) == "26 days, 12:19:18" and de.clock(2290758) == "26 Tage, 12:19:18"
    assert en.clock(86400 + 61) == "1 day, 00:01:01" and de.clock(86399) == "23:59:59"
    assert en.wait_in_words(2290758) == "26 days" and de.wait_in_words(290) == "etwa 5 Minuten"
    assert en.wait_in_words(5 * 3600 + 1200) == "about 5.5 hours"


def test_a_room_look_from_the_config() -> None:
    look = look_from_mapping(
        {
            "title": {"de": "Impftermine Kiel", "en": "Vaccination appointments Kiel"},
            "intro": "Landeshauptstadt Kiel",
            "logo_url": "https://portal.example/logo.svg",
            "logo_alt": "Kiel",
            "help_url": "/faq",
            "accent_color": "#FC0",
        }
    )
    assert look.text("title", "en") == "Vaccination appointments Kiel"
    assert look.text("intro", "en") == "Landeshauptstadt Kiel"
    assert look.accent_color == "#ffcc00"
    assert PageLook().text("title", "de") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": "#fff"}, "unknown setting"),
        ({"accent_color": "blue"}, "hex colour"),
        ({"accent_color": "#12345g"}, "hex colour"),
        ({"logo_url": "javascript:alert(1)"}, "https:// URL"),
        ({"logo_url": "//evil.example/x.png"}, "https:// URL"),
        ({"help_url": 'https://x.example/"onload="'}, "not allowed"),
        ({"title": {"fr": "Salle"}}, "languages"),
        ({"title": 3}, "string or a table"),
    ],
)
def test_a_bad_look_is_refused_naming_the_setting(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        look_from_mapping(data, "room 'kiel'.page")


@pytest.mark.parametrize("accent", ["#ffcc00", "#1d4f91", "#e30613", "#00a0e0", "#ffffff"])
def test_brand_colours_stay_readable(accent: str) -> None:
    on_accent = readable_on(accent)
    assert contrast(on_accent, accent) >= MIN_CONTRAST or accent in ("#e30613", "#00a0e0")
    assert contrast(darkened_for(accent, "#ffffff"), "#ffffff") >= MIN_CONTRAST
    css = theme_css(PageLook(accent_color=accent))
    assert f"--pq-accent: {accent};" in css


def test_room_texts_are_escaped_and_script_data_cannot_break_out() -> None:
    look = PageLook(title={"de": "<script>alert(1)</script>"})
    ctx = PageContext(
        room="kiel",
        texts=texts("de"),
        look=look,
        zone=ZoneInfo("Europe/Berlin"),
        language_links={"de": "/rooms/kiel?lang=de", "en": "/rooms/kiel?lang=en"},
        assets={"page.css": "/a.css", "page.js": "/a.js", "theme.css": "/t.css"},
    )
    html = document(
        ctx,
        heading="x",
        main="<p>y</p>",
        view="v",
        script_data={"s": "</script><script>alert(1)</script>"},
    )
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    data = json_for_script({"s": "</script>&"})
    assert "</script>" not in data and json.loads(data) == {"s": "</script>&"}


# ----- what the page says in each mode ----------------------------------------------------------

#: The room modes: pre-queue (shuffle, fifo) x identity (plain, a required label, vouched).
MODES = [(p, i) for p in ("shuffle", "fifo") for i in ("optional", "required", "entry")]


def _ctx(lang: str) -> PageContext:
    return PageContext(
        room="kiel",
        texts=texts(lang),
        look=PageLook(),
        zone=ZoneInfo("Europe/Berlin"),
        language_links={},
        assets={},
    )


def _facts(prequeue: str, identity: str, state: str) -> RoomFacts:
    return RoomFacts(
        state=state,
        opens_at=datetime(2021, 5, 10, 5, 0, tzinfo=UTC),
        prequeue=prequeue,
        identity=identity,
        returned_slots="windows",
        next_release_window=None,
    )


def _status(state: str) -> dict[str, object]:
    eta = {"low": 60, "seconds": 90, "high": 120, "known": True}
    return {
        "state": state,
        "ahead": 3,
        "ahead_at_start": 5,
        "eta": eta,
        "opens_in_seconds": 600,
        "paused": False,
        "offer": None,
        "poll_after_ms": 5000,
    }


def _said(lang: str, prequeue: str, identity: str, ticket: str, room_state: str) -> str:
    page = waiting_room(_ctx(lang), _facts(prequeue, identity, room_state), _status(ticket))
    return page.main


@pytest.mark.parametrize(("prequeue", "identity"), MODES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_what_the_page_says_about_devices_and_arriving_is_true_in_each_mode(
    lang: str, prequeue: str, identity: str
) -> None:
    t = texts(lang)
    before = _said(lang, prequeue, identity, "prequeue", "prequeue")
    after = _said(lang, prequeue, identity, "waiting", "open")
    for page in (before, after):
        assert esc(t("reload_keeps")) in page  # the ticket cookie keeps the place in every mode
    if identity == "entry":  # vouched: the same person is the same place on any device
        assert esc(t("devices_vouched")) in before and esc(t("devices_vouched")) in after
    else:  # a label proves nothing: each browser has a place of its own
        expected = "devices_draw" if prequeue == "shuffle" else "devices_fifo_prequeue"
        assert esc(t(expected)) in before and esc(t("devices_queue")) in after
        for page in (before, after):
            assert esc(t("devices_vouched")) not in page
    # Before the draw a second device is another draw: no claim that it would land at the end.
    if prequeue == "shuffle":
        assert esc(t("devices_queue")) not in before
        assert esc(t("prequeue_fair_shuffle")) in before
    else:
        assert esc(t("prequeue_fair_fifo")) in before
    facts = _facts(prequeue, identity, "prequeue")
    joins_open_at = facts.opens_at - timedelta(minutes=5)
    before_joining = (joins_open_at - timedelta(seconds=300)).timestamp()
    not_open = not_open_yet(_ctx(lang), facts, joins_open_at, before_joining).main
    drawn = ("ausgelost", "drawn")
    assert any(word in not_open for word in drawn) == (prequeue == "shuffle")
    assert any(word in before for word in drawn) == (prequeue == "shuffle")


@pytest.mark.parametrize("prequeue", ["shuffle", "fifo"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_leaving_before_the_draw_says_where_a_new_place_would_be(lang: str, prequeue: str) -> None:
    t = texts(lang)
    before = _said(lang, prequeue, "optional", "left", "prequeue")
    after = _said(lang, prequeue, "optional", "left", "open")
    assert esc(t("left_text")) in after
    expected = "left_text_draw" if prequeue == "shuffle" else "left_text"
    assert esc(t(expected)) in before


def test_booking_limits_count_places_unless_people_are_vouched_for() -> None:
    for lang in LANGUAGES:
        t = texts(lang)
        assert t(limit_key("optional"), limit=1) == t(limit_key("required"), limit=1)
        assert t(limit_key("optional"), limit=1) != t(limit_key("entry"), limit=1)
    assert "Jeder Platz" in texts("de")(limit_key("required"), limit=1)
    assert "Each person" in texts("en")(limit_key("entry"), limit=1)
    identity_form_text = texts("en")("identity_text")
    assert "same place" not in identity_form_text and "every device" not in identity_form_text


@pytest.mark.parametrize(
    ("reason", "known", "en", "de"),
    [
        (
            "capacity",
            True,
            "the booking site is full and lets in about 5 people a second as others finish",
            "Die Buchungsseite ist voll und lässt etwa 5 Personen pro Sekunde ein",
        ),
        ("rate", True, "The booking site lets in about 5 people a second.", "etwa 5 Personen"),
        ("expiry", True, "only frees up when someone's booking time runs out", "erst frei"),
        ("measuring", False, "lets in at most 5 people a second", "höchstens 5 Personen"),
    ],
)
def test_the_page_says_what_the_wait_rests_on(reason: str, known: bool, en: str, de: str) -> None:
    """The issue's booking site, full at 300 admissions a minute: the wait line and the reason
    in words, in both languages; a range that spans the settings is not shown."""
    for lang, said in (("en", en), ("de", de)):
        status = {**_status("waiting"), "eta": {
            "low": 60, "seconds": 90, "high": 6000, "known": known,
            "reason": reason, "admit_per_minute": 300,
        }}  # fmt: skip
        page = waiting_room(_ctx(lang), _facts("shuffle", "optional", "open"), status).main
        assert said in html.unescape(page)
        wait = re.search(r'id="pq-eta">([^<]*)<', page)
        assert wait is not None
        if reason == "measuring":
            assert wait.group(1) == texts(lang)("eta_measuring")
        else:
            assert wait.group(1) == texts(lang).wait(60, 6000)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_paused_queue_shows_no_wait_and_says_who_paused_it(lang: str) -> None:
    status = {**_status("waiting"), "paused": True, "eta": {
        "low": 60, "seconds": 90, "high": 120, "known": False,
        "reason": "paused", "admit_per_minute": 600,
    }}  # fmt: skip
    page = waiting_room(_ctx(lang), _facts("shuffle", "optional", "paused"), status).main
    t = texts(lang)
    assert f'id="pq-eta">{html.escape(t("eta_paused"))}<' in page
    assert t.wait(60, 120) not in page
    assert "Veranstalter" in page if lang == "de" else "organiser" in page


def test_speeds_are_said_per_second_from_two_a_second() -> None:
    t = texts("en")
    assert t.rate(120) == "2 people a second"
    assert t.rate(90) == "90 people a minute"
    assert t.rate(1) == "1 person a minute"
