"""Languages, phrasing and the room's own look, without a server."""

from __future__ import annotations

import json
import re
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
from pyqueue.web.html import PageContext, document, json_for_script
from pyqueue.web.i18n import LANGUAGES, negotiate, texts

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
    assert de.moment(when, ZoneInfo("Europe/Berlin")) == "Mi., 12. Mai 2021, 08:30 Uhr"
    assert en.moment(when, ZoneInfo("Europe/Berlin")) == "Wed 12 May 2021, 08:30"


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
