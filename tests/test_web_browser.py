"""The waiting-room page in a real browser: headless Chromium (Debian's) driven by Selenium,
against the real server process on loopback, on a virtual clock the tests move.

Screenshots of every state go to ``test-artifacts/web/`` (phone width 360 px, and desktop).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    ADMIN_TOKEN,
    BROWSER_MARKS,
    DESKTOP,
    PHONE,
    ServerProcess,
    browser,
    resize,
    screenshot,
    text_of,
    view_of,
    wait_for,
)

import pyqueue

pytestmark = BROWSER_MARKS

CLOCK_START = "2021-05-10T06:59:40+02:00"
#: The crowd that joins the pre-queue with the first browser visitor: enough for a wait of
#: minutes at the room's pace, so the page shows a real range.
CROWD = 300
#: Alice's place after the draw is at least this (the draw's seed is chosen for it).
ALICE_AHEAD = 200
CODE = re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}$")


def _slots(prefix: str, centres: list[str], days: list[str], times: list[str]) -> str:
    rows = []
    for c, centre in enumerate(centres):
        for day in days:
            for t, hhmm in enumerate(times):
                slot_id = f"{prefix}{c}-{day}-{t}"
                starts = f"{day}T{hhmm}:00+02:00"
                group = f"{centre} {day}"
                rows.append(f'{{ id = "{slot_id}", group = "{group}", starts_at = "{starts}" }}')
    return "[\n  " + ",\n  ".join(rows) + "\n]"


def _seed_with_people_ahead(joined: int, index: int, minimum_ahead: int) -> int:
    """A draw seed that puts the ``index``-th joiner at least ``minimum_ahead`` places back,
    so that the test can watch the place fall."""
    for seed in range(1, 10_000):
        if pyqueue.draw_order(joined, seed).index(index) >= minimum_ahead:
            return seed
    raise AssertionError("no seed found")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory: Path = tmp_path_factory.mktemp("browser-server")
    seed = _seed_with_people_ahead(CROWD + 1, 0, ALICE_AHEAD)
    common = """
admit_per_minute = 120
max_active = 1000
session_seconds = 1800
heartbeat_timeout_seconds = 3600
hold_seconds = 600
timezone = "Europe/Berlin"
"""
    config = f"""
[server]
admin_token = "{ADMIN_TOKEN}"
secrets = {{ k1 = "a-secret-of-the-browser-tests-0123456789" }}

[[rooms]]
id = "kiel"
opens_at = "2021-05-10T07:00:00+02:00"
prequeue = "shuffle"
seed = {seed}
{common}
slots = {
        _slots(
            "k",
            ["Kiel Ostseehalle", "Neumünster Holstenhallen"],
            ["2021-05-12", "2021-05-13"],
            ["08:00", "08:30", "09:00", "09:30"],
        )
    }

[[rooms]]
id = "flensburg"
opens_at = "2021-05-10T06:00:00+02:00"
max_active = 2
admit_per_minute = 120
session_seconds = 1800
heartbeat_timeout_seconds = 3600
timezone = "Europe/Berlin"
slots = {_slots("f", ["Flensburg Exe"], ["2021-05-12"], ["10:00", "10:30", "11:00"])}
"""
    path = directory / "pyqueue.toml"
    path.write_text(config, encoding="utf-8")
    process = ServerProcess(path, CLOCK_START)
    process.start()
    try:
        # Flensburg is full (two sessions running, every join queued): its visitors wait
        # until a test makes room, whatever the clock does meanwhile.
        for _ in range(2):
            _admit(process, "flensburg", process.join("flensburg"))
        process.admin("POST", "/v1/admin/rooms/flensburg/queue-all", {"on": True})
        yield process
    finally:
        process.stop()


def _ticket(driver: Any, room: str) -> str:
    cookie = driver.get_cookie(f"pyqueue_ticket_{room}")
    assert cookie is not None, "the page set no ticket cookie"
    return str(cookie["value"])


def _admit(server: ServerProcess, room: str, ticket: str) -> None:
    """Moves the clock a second at a time until this ticket is admitted (each second admits
    the room's rate, so this takes as many steps as the visitor's wait in seconds)."""
    for _ in range(5_000):
        status, answer = server.request("GET", f"/v1/rooms/{room}/status", token=ticket)
        assert status == 200, answer
        if answer["state"] == "admitted":
            return
        assert answer["state"] in ("prequeue", "waiting"), answer
        server.advance(1)
    raise AssertionError(f"a visitor of {room} was never admitted")


def _place(driver: Any) -> int:
    """The place on the page, read as a number ("1.234" in German)."""
    return int(text_of(driver, "#pq-place").replace(".", "").replace(",", ""))


def _wait_view(driver: Any, view: str) -> None:
    wait_for(lambda: view_of(driver) == view, f"the {view} view")


def _wait_css(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, css), css)


def _click(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, css).click()


def _both_sizes(driver: Any, name: str) -> None:
    screenshot(driver, f"{name}-phone")
    resize(driver, DESKTOP)
    screenshot(driver, f"{name}-desktop")
    resize(driver, PHONE)


def test_a_visitor_from_the_pre_queue_to_the_booking_code(server: ServerProcess) -> None:
    from selenium.webdriver.common.by import By

    room_url = f"{server.base_url}/rooms/kiel"
    with browser("de-DE") as alice:
        # Before opening: a countdown, and why coming early gains nothing.
        alice.get(room_url)
        wait_for(lambda: view_of(alice) == "prequeue", "the pre-queue view")
        assert re.fullmatch(r"\d{2}:\d{2}", text_of(alice, "[data-countdown]"))
        assert "zufällig ausgelost" in text_of(alice, "main")
        assert "keinen Vorteil" in text_of(alice, "main")
        _both_sizes(alice, "01-prequeue-de")

        for _ in range(CROWD):
            server.join("kiel")
        server.advance(30)  # the room opens: the draw puts Alice behind others

        # The script's poll notices the opening and shows the place and the wait range.
        wait_for(lambda: view_of(alice) == "waiting", "the waiting view after opening")
        place = _place(alice)
        assert place > ALICE_AHEAD
        assert re.fullmatch(r"etwa \d+\N{EN DASH}\d+ Minuten", text_of(alice, "#pq-eta"))
        assert "Zuletzt aktualisiert" in text_of(alice, "#pq-updated")
        assert alice.find_element(By.ID, "pq-live").get_attribute("aria-live") == "polite"
        assert "Neu laden behält Ihren Platz" in text_of(alice, "main")
        _both_sizes(alice, "02-waiting-de")

        # Reloading keeps the place (the clock stands still, so it is the same number).
        ticket = _ticket(alice, "kiel")
        alice.refresh()
        wait_for(lambda: view_of(alice) == "waiting", "the waiting view after a reload")
        assert _place(alice) == place
        assert _ticket(alice, "kiel") == ticket

        # The place falls as others are admitted, updated in place by the poll (no reload).
        alice.execute_script("window.pqSamePage = true")
        server.advance(2)
        wait_for(lambda: _place(alice) < place, "the place to fall")
        assert alice.execute_script("return window.pqSamePage") is True
        progress = alice.find_element(By.ID, "pq-progress")
        assert float(progress.get_attribute("value")) > 0
        screenshot(alice, "03-waiting-moved-de-phone")

        _admit(server, "kiel", ticket)
        wait_for(lambda: view_of(alice) == "admitted", "the your-turn view")
        assert text_of(alice, "h1") == "Sie sind dran!"
        assert re.fullmatch(r"\d{2}:\d{2}", text_of(alice, "[data-countdown]"))
        _both_sizes(alice, "04-admitted-de")

        with browser("de-DE") as bob:
            # A second visitor joins after opening and is admitted after Alice.
            bob.get(room_url)
            wait_for(lambda: view_of(bob) in ("waiting", "admitted"), "Bob's place")
            _admit(server, "kiel", _ticket(bob, "kiel"))
            wait_for(lambda: view_of(bob) == "admitted", "Bob's turn")

            # Both open the same centre and day in the picker.
            for visitor in (alice, bob):
                _click(visitor, "#pq-go")
                _wait_view(visitor, "picker")
                _click(visitor, "a.day")
                _wait_css(visitor, "#pq-slots button")
            assert "Kiel Ostseehalle" in text_of(alice, "#pq-slots-title")
            _both_sizes(alice, "05-picker-de")

            # Alice holds the first time; Bob, a moment later, tries the same one.
            slot = alice.find_element(By.CSS_SELECTOR, "#pq-slots button").get_attribute(
                "data-slot"
            )
            _click(alice, f'#pq-slots button[data-slot="{slot}"]')
            wait_for(lambda: view_of(alice) == "hold", "Alice's hold")
            assert re.fullmatch(r"\d{2}:\d{2}", text_of(alice, "#pq-hold-clock"))
            _both_sizes(alice, "06-hold-de")

            _click(bob, f'#pq-slots button[data-slot="{slot}"]')
            wait_for(lambda: bob.find_elements(By.CSS_SELECTOR, ".taken"), "the taken notice")
            assert text_of(bob, "#pq-taken-title") == "Dieser Termin wurde gerade vergeben"
            offered = [
                b.get_attribute("data-slot")
                for b in bob.find_elements(By.CSS_SELECTOR, ".taken button")
            ]
            assert offered and slot not in offered
            _both_sizes(bob, "07-slot-taken-alternatives-de")

            # Bob takes an alternative at once; both confirm and see their codes.
            _click(bob, ".taken button")
            wait_for(lambda: view_of(bob) == "hold", "Bob's hold of an alternative")
            _click(bob, "#pq-confirm")
            wait_for(lambda: view_of(bob) == "booking", "Bob's booking")
            bob_code = text_of(bob, "#pq-code")

        _click(alice, "#pq-confirm")
        wait_for(lambda: view_of(alice) == "booking", "Alice's booking code")
        code = text_of(alice, "#pq-code")
        assert CODE.fullmatch(code) and CODE.fullmatch(bob_code) and code != bob_code
        size = alice.find_element(By.ID, "pq-code").value_of_css_property("font-size")
        assert float(size.removesuffix("px")) >= 28
        _both_sizes(alice, "08-booking-code-de")

        # Back in the waiting room, the booking is done and the code is kept.
        alice.get(room_url)
        wait_for(lambda: view_of(alice) == "completed", "the done view")

        # Cancelling by code, on its own page.
        alice.get(f"{server.base_url}/rooms/kiel/cancel")
        alice.find_element(By.ID, "pq-cancel-code").send_keys(code.lower())
        _click(alice, "main form button")
        wait_for(lambda: view_of(alice) == "cancel-confirm", "the booking to cancel")
        screenshot(alice, "09-cancel-confirm-de-phone")
        _click(alice, "main form button")
        wait_for(lambda: view_of(alice) == "cancelled", "the cancellation")
        screenshot(alice, "10-cancelled-de-phone")
    status, answer = server.request("GET", f"/v1/rooms/kiel/bookings/{code}")
    assert status == 404 or answer.get("state") == "cancelled"


def test_german_and_english_visitors_see_their_language(server: ServerProcess) -> None:
    room_url = f"{server.base_url}/rooms/flensburg"
    with browser("en-US") as english, browser("de-DE") as german:
        english.get(room_url)
        german.get(room_url)
        for driver in (english, german):
            _wait_view(driver, "waiting")
        assert english.find_element("tag name", "html").get_attribute("lang") == "en"
        assert text_of(english, "h1") == "You are in the queue"
        assert "Reloading this page keeps your place" in text_of(english, "main")
        assert "A second device does not help" in text_of(english, "main")
        assert german.find_element("tag name", "html").get_attribute("lang") == "de"
        assert text_of(german, "h1") == "Sie sind in der Warteschlange"
        _both_sizes(english, "11-waiting-en")

        # The visitor may switch by hand; the choice sticks for the next pages.
        english.find_element("css selector", 'a[hreflang="de"]').click()
        wait_for(
            lambda: english.find_element("tag name", "html").get_attribute("lang") == "de",
            "the page in German",
        )
        assert text_of(english, "h1") == "Sie sind in der Warteschlange", english.current_url
        english.get(room_url)
        wait_for(
            lambda: english.find_element("tag name", "html").get_attribute("lang") == "de",
            "the language choice to stick",
        )


def test_the_page_works_without_javascript(server: ServerProcess) -> None:
    from selenium.webdriver.common.by import By

    room_url = f"{server.base_url}/rooms/flensburg"
    with browser("de-DE", javascript=False) as visitor:
        visitor.get(room_url)
        wait_for(lambda: view_of(visitor) == "waiting", "the waiting view without JavaScript")
        refresh = visitor.find_element(By.CSS_SELECTOR, "noscript").get_attribute("innerHTML")
        assert 'http-equiv="refresh"' in refresh
        screenshot(visitor, "12-no-javascript-waiting-de-phone")
        # Room is made; the meta refresh (at the server's interval) shows the turn by itself.
        server.admin("PATCH", "/v1/admin/rooms/flensburg", {"max_active": 50})
        _admit(server, "flensburg", _ticket(visitor, "flensburg"))
        wait_for(lambda: view_of(visitor) == "admitted", "the your-turn view, by meta refresh")

        # Booking is plain forms: it works without JavaScript too.
        _click(visitor, "#pq-go")
        wait_for(lambda: view_of(visitor) == "picker", "the picker")
        _click(visitor, "a.day")
        wait_for(lambda: visitor.find_elements(By.CSS_SELECTOR, "#pq-slots button"), "times")
        _click(visitor, "#pq-slots button")
        wait_for(lambda: view_of(visitor) == "hold", "the hold")
        _click(visitor, "#pq-confirm")
        wait_for(lambda: view_of(visitor) == "booking", "the booking code")
        assert CODE.fullmatch(text_of(visitor, "#pq-code"))
        screenshot(visitor, "13-no-javascript-booking-code-de-phone")
