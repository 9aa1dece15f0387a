"""What surprised a new user in the first hour, kept fixed, on the memory backend and on a real
Redis: every admission is counted in ``/metrics`` (those at once on joining too), a refused
release is in the audit log, and a cancelled booking answers with its state by its code, over
the API and on the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.page_support import ADMIN, NOW, ClientFactory, Site, make_site, room

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def open_site(aiohttp_client: ClientFactory, url: str, **settings: Any) -> Site:
    """The page tests' room, opened (its draw made), with no crowd."""
    site = await make_site(
        aiohttp_client,
        [room(admit_per_minute=600, **settings)],
        backend=url,
        code_rate_per_minute=0,
    )
    await site.advance(601)  # a second after the opening: admissions have accrued
    return site


async def call(site: Site, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with site.client.request(method, path, **kwargs) as response:
        return response.status, await response.json()


async def metric(site: Site, line_start: str) -> str:
    async with site.client.get("/metrics") as response:
        text = await response.text()
    found = [line for line in text.splitlines() if line.startswith(line_start)]
    assert len(found) == 1, (line_start, found)
    return found[0]


async def test_admissions_at_once_on_joining_are_counted(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await open_site(aiohttp_client, backend_url)
    for _ in range(3):
        status, body = await call(site, "POST", "/v1/rooms/kiel/join", json={})
        assert (status, body["state"]) == (201, "admitted")
    assert (
        await metric(site, "pyqueue_admitted_total{") == 'pyqueue_admitted_total{room="kiel"} 3.0'
    )
    # A line forms once the room is full for the moment; the tick's admissions count as well.
    await call(site, "POST", "/v1/admin/rooms/kiel/queue-all", json={}, headers=ADMIN_AUTH)
    status, body = await call(site, "POST", "/v1/rooms/kiel/join", json={})
    assert (status, body["state"]) == (201, "waiting")
    await call(
        site, "POST", "/v1/admin/rooms/kiel/queue-all", json={"on": False}, headers=ADMIN_AUTH
    )
    await site.advance(1)
    assert (
        await metric(site, "pyqueue_admitted_total{") == 'pyqueue_admitted_total{room="kiel"} 4.0'
    )


async def test_a_refused_release_is_in_the_audit_log(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await open_site(aiohttp_client, backend_url, release_windows=["Mon-Fri 17:00"])
    headers = {**ADMIN_AUTH, "X-Pyqueue-Actor": "anna"}
    status, body = await call(
        site,
        "POST",
        "/v1/admin/rooms/kiel/release",
        json={"reason": "the centre asked"},
        headers=headers,
    )
    assert (status, body["error"]["code"]) == (409, "release_refused")
    status, body = await call(site, "POST", "/v1/admin/rooms/kiel/release", headers=headers)
    assert status == 409
    status, audit = await call(site, "GET", "/v1/admin/rooms/kiel/audit", headers=ADMIN_AUTH)
    refused = [e for e in audit["entries"] if e["action"] == "release_refused"]
    assert [(e["actor"], e["count"], e["reason"]) for e in refused] == [
        ("anna", 0, "the centre asked"),
        ("anna", 0, None),
    ]


async def book_s0(site: Site) -> dict[str, Any]:
    """A new visitor (admitted at once: nobody waits) books the slot s0; the booking."""
    status, joined = await call(site, "POST", "/v1/rooms/kiel/join", json={})
    auth = {"Authorization": f"Bearer {joined['pass']}"}
    status, _ = await call(site, "POST", "/v1/rooms/kiel/slots/s0/hold", headers=auth)
    assert status == 201
    status, booked = await call(site, "POST", "/v1/rooms/kiel/slots/s0/confirm", headers=auth)
    assert status == 201
    return dict(booked)


async def test_a_cancelled_booking_answers_with_its_state(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await open_site(aiohttp_client, backend_url)
    booked = await book_s0(site)
    assert (booked["state"], booked["cancelled_at"]) == ("booked", None)
    code = booked["code"]
    await site.advance(90)
    status, cancelled = await call(site, "POST", f"/v1/rooms/kiel/bookings/{code}/cancel")
    assert status == 200
    assert cancelled == {**booked, "state": "cancelled", "cancelled_at": "2021-05-10T05:01:31Z"}
    await site.advance(60)
    status, found = await call(site, "GET", f"/v1/rooms/kiel/bookings/{code.lower()}")
    assert (status, found) == (200, cancelled)
    # Cancelling again changes nothing and is not counted again.
    status, again = await call(site, "POST", f"/v1/rooms/kiel/bookings/{code}/cancel")
    assert (status, again) == (200, cancelled)
    assert await metric(site, "pyqueue_cancellations_total{") == (
        'pyqueue_cancellations_total{room="kiel"} 1.0'
    )
    # A code that was never issued is still unknown.
    status, body = await call(site, "GET", "/v1/rooms/kiel/bookings/AB12C-DE34F")
    assert (status, body["error"]["code"]) == (404, "unknown_booking")
    page = await site.visitor(lang="en").get(f"/rooms/kiel/bookings/{code}")
    assert page.status == 200 and page.view == "booking-cancelled"
    assert "Cancelled on Mon 10 May 2021, 07:01 (Europe/Berlin)." in page.text
    german = await site.visitor().get(f"/rooms/kiel/cancel?code={code}")
    assert german.view == "booking-cancelled"
    assert "Storniert am Mo., 10. Mai 2021, 07:01 Uhr (Europe/Berlin)." in german.text


async def test_a_cancellation_is_counted_once_however_often_it_is_asked_for(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    # The clock stands still (as a slow store or a stopped test clock may make it look): a
    # cancel asked for again at the same instant is still no new cancellation.
    site = await open_site(aiohttp_client, backend_url)
    code = (await book_s0(site))["code"]
    answers = [await call(site, "POST", f"/v1/rooms/kiel/bookings/{code}/cancel") for _ in "ab"]
    assert [(s, body["state"]) for s, body in answers] == [(200, "cancelled")] * 2
    page = await site.visitor(lang="en").post("/rooms/kiel/cancel", {"code": code})
    assert page.status == 303
    assert await metric(site, "pyqueue_cancellations_total{") == (
        'pyqueue_cancellations_total{room="kiel"} 1.0'
    )


async def test_a_place_is_resumed_with_its_ticket_token_never_silently_anew(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await open_site(aiohttp_client, backend_url)
    await call(site, "POST", "/v1/admin/rooms/kiel/queue-all", json={}, headers=ADMIN_AUTH)
    status, first = await call(site, "POST", "/v1/rooms/kiel/join", json={})
    assert (status, first["state"]) == (201, "waiting")
    ticket = first["ticket"]
    # The Python API's ticket= over HTTP: the token in the body (or as the bearer token).
    status, again = await call(site, "POST", "/v1/rooms/kiel/join", json={"ticket": ticket})
    assert (status, again["ticket_id"]) == (200, first["ticket_id"])
    bearer = {"Authorization": f"Bearer {ticket}"}
    status, again = await call(site, "POST", "/v1/rooms/kiel/join", json={}, headers=bearer)
    assert (status, again["ticket_id"]) == (200, first["ticket_id"])
    # In the URL it is refused by name, not ignored for a new place at the back.
    status, body = await call(site, "POST", f"/v1/rooms/kiel/join?ticket={ticket}", json={})
    assert (status, body["error"]["code"]) == (400, "invalid_argument")
    assert "ticket" in body["error"]["message"]
    status, body = await call(site, "POST", "/v1/rooms/kiel/join?place=1", json={})
    assert status == 400 and "place" in body["error"]["message"]
    status, body = await call(site, "POST", "/v1/rooms/kiel/join?a%0Ab=1", json={})
    assert status == 400 and "'a\\nb'" in body["error"]["message"]
    # A ticket number, or anything but the signed token, takes nobody's place.
    for guess, code in (("0", "token_malformed"), ("", "token_malformed")):
        status, body = await call(site, "POST", "/v1/rooms/kiel/join", json={"ticket": guess})
        assert (status, body["error"]["code"]) == (401, code), guess
    status, body = await call(site, "POST", "/v1/rooms/kiel/join", json={"ticket": 0})
    assert (status, body["error"]["code"]) == (400, "invalid_argument")
    other = {"Authorization": "Bearer k1.not.this"}
    status, body = await call(
        site, "POST", "/v1/rooms/kiel/join", json={"ticket": ticket}, headers=other
    )
    assert (status, body["error"]["code"]) == (400, "invalid_argument")
    status, info = await call(site, "GET", "/v1/rooms/kiel")
    assert info["waiting"] == 1, "no refused resume made a place"


async def test_slot_loads_take_curls_default_content_type(
    aiohttp_client: ClientFactory,
) -> None:
    site = await open_site(aiohttp_client, "memory")
    form = {**ADMIN_AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    as_json = (
        b'{"slots": [{"id": "j1", "group": "Kiel 2021-05-13",'
        b' "starts_at": "2021-05-13T08:00:00+02:00"}]}'
    )
    as_csv = b"id,group,starts_at\nc1,Kiel 2021-05-13,2021-05-13T08:30:00+02:00\n"
    for body, headers in (
        (as_json, form),
        (as_csv, form),
        (b"\xef\xbb\xbf" + as_csv.replace(b"c1", b"c2"), ADMIN_AUTH),
    ):
        status, answer = await call(
            site, "POST", "/v1/admin/rooms/kiel/slots", data=body, headers=headers
        )
        assert (status, answer["added"]) == (201, 1), answer
    # A CSV without its header row says what the header must be.
    no_header = b"c3,Kiel 2021-05-13,2021-05-13T09:00:00+02:00\n"
    status, answer = await call(
        site, "POST", "/v1/admin/rooms/kiel/slots", data=no_header, headers=form
    )
    assert (status, answer["error"]["code"]) == (400, "invalid_argument")
    message = answer["error"]["message"]
    assert "header row id,group,starts_at" in message and "'c3,Kiel 2021-05-13," in message


async def test_before_joining_opens_the_page_and_the_api_say_when_in_words(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    joins_open = NOW + timedelta(days=26, hours=12, minutes=19, seconds=18)
    site = await make_site(
        aiohttp_client,
        [
            room(
                opens_at=(NOW + timedelta(days=30)).isoformat(),
                prequeue_opens_at=joins_open.isoformat(),
            )
        ],
        backend=backend_url,
    )
    async with site.client.post("/v1/rooms/kiel/join", json={}) as response:
        assert response.status == 425
        assert response.headers["Retry-After"] == "2290758"
        error = (await response.json())["error"]
    assert error["code"] == "not_open_yet" and error["opens_in_seconds"] == 2290758
    assert error["message"] == (
        "the waiting room is not open yet: joining opens at 2021-06-05T17:09:18Z"
        " (in 26 days 12 hours)"
    )
    page = await site.visitor(lang="en").get("/rooms/kiel")
    assert page.view == "not-open"
    # The clock counts to the queue's opening, the moment the text under it names, in days.
    assert 'data-countdown="2592000.0"' in page.text and ">30 days, 00:00:00<" in page.text
    assert "The queue opens in" in page.text
    assert "The queue itself opens on Wed 9 June 2021, 06:50 (Europe/Berlin)." in page.text
    assert (
        "You can take a place in the waiting room from Sat 5 June 2021, 19:09 (Europe/Berlin),"
        " in 26 days." in page.text
    )
    german = await site.visitor().get("/rooms/kiel")
    assert ">30 Tage, 00:00:00<" in german.text
    assert "ab Sa., 5. Juni 2021, 19:09 Uhr (Europe/Berlin), in 26 Tagen." in german.text


async def test_a_room_made_over_the_admin_api_shows_its_time_zone(
    aiohttp_client: ClientFactory,
) -> None:
    site = await make_site(aiohttp_client, [room()])
    opens = (NOW + timedelta(hours=2)).isoformat()
    status, made = await call(
        site, "PUT", "/v1/admin/rooms/husum", json={"opens_at": opens}, headers=ADMIN_AUTH
    )
    assert status == 201
    # The documented defaults: UTC, and no release windows.
    assert (made["config"]["timezone"], made["config"]["release_windows"]) == ("UTC", [])
    page = await site.visitor(lang="en").get("/rooms/husum")
    assert page.view == "prequeue"
    assert "The queue opens on Mon 10 May 2021, 06:50 (UTC)." in page.text
    kiel = await site.visitor(lang="en").get("/rooms/kiel")
    assert "The queue opens on Mon 10 May 2021, 07:00 (Europe/Berlin)." in kiel.text
