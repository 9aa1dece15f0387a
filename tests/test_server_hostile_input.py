"""What a client sends must never become a 500: form bodies of the wrong type or encoding,
bodies that claim a Content-Encoding they do not have, tampered hold cookies. And nothing a
client puts in a URL may grow the server's memory: theme stylesheets exist per configured room
only. In process, on a virtual clock."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from page_support import ClientFactory, Site, Visitor, make_site, room

from pyqueue.server.page_http import PAGES, encode_cookie, hold_cookie

FORM_ROUTES = [
    "/rooms/kiel",
    "/rooms/kiel/rejoin",
    "/rooms/kiel/offer/accept",
    "/rooms/kiel/offer/decline",
    "/rooms/kiel/book/s1/hold",
    "/rooms/kiel/book/s1/confirm",
    "/rooms/kiel/book/s1/release",
    "/rooms/kiel/cancel",
]
URLENCODED = "application/x-www-form-urlencoded"


@pytest.fixture
async def site(aiohttp_client: ClientFactory) -> Site:
    return await make_site(aiohttp_client, [room(hold_seconds=300)])


@pytest.fixture
def error_lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The records at error level or above logged during the test (none is allowed)."""
    caplog.set_level(logging.INFO)
    records: list[logging.LogRecord] = []
    yield records
    records.extend(r for r in caplog.records if r.levelno >= logging.ERROR)
    assert not records, [r.getMessage() for r in records]


async def post_raw(
    site: Site, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str, dict[str, str]]:
    async with site.client.post(
        path, data=body, headers=headers, allow_redirects=False
    ) as response:
        return response.status, await response.text(), dict(response.headers)


def is_html_page(headers: dict[str, str], text: str) -> bool:
    return headers["Content-Type"].startswith("text/html") and text.startswith("<!doctype html>")


@pytest.mark.parametrize("path", FORM_ROUTES)
@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=pq"]
)
async def test_a_multipart_form_is_refused_with_a_page(
    site: Site, path: str, content_type: str, error_lines: list[logging.LogRecord]
) -> None:
    status, text, headers = await post_raw(
        site, path, b"code=AB12C-DE34F", {"Content-Type": content_type}
    )
    assert status == 415, text[:300]
    assert is_html_page(headers, text)


@pytest.mark.parametrize("path", FORM_ROUTES)
async def test_a_form_that_is_not_utf8_is_refused_with_a_page(
    site: Site, path: str, error_lines: list[logging.LogRecord]
) -> None:
    for body in (b"code=\xff\xfe", b"identity=%ff%fe"):
        status, text, headers = await post_raw(site, path, body, {"Content-Type": URLENCODED})
        assert status == 400, (body, text[:300])
        assert is_html_page(headers, text)


@pytest.mark.parametrize("path", FORM_ROUTES)
async def test_a_form_claiming_gzip_that_is_not_is_refused_with_a_page(
    site: Site, path: str, error_lines: list[logging.LogRecord]
) -> None:
    status, text, headers = await post_raw(
        site,
        path,
        b"code=not-gzip-at-all",
        {"Content-Type": URLENCODED, "Content-Encoding": "gzip"},
    )
    assert status == 400, text[:300]
    assert is_html_page(headers, text)
    # The rest of that body cannot be found in the stream: the connection ends with the answer.
    assert headers["Connection"] == "close"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/rooms/kiel/join", "application/json"),
        ("/v1/admin/rooms/kiel/slots", "application/json"),
        ("/v1/admin/rooms/kiel/slots", "text/csv"),
    ],
)
async def test_an_api_body_claiming_gzip_that_is_not_is_a_json_400(
    site: Site, path: str, content_type: str, error_lines: list[logging.LogRecord]
) -> None:
    headers = {
        "Content-Type": content_type,
        "Content-Encoding": "gzip",
        "Authorization": "Bearer admin-token-of-the-page-tests",
    }
    status, text, answer_headers = await post_raw(site, path, b"{} but not gzip", headers)
    assert status == 400, text
    assert answer_headers["Content-Type"].startswith("application/json")
    assert '"code":"bad_request"' in text
    assert answer_headers["Connection"] == "close"
    # The next request, on a new connection, is served as usual.
    async with site.client.get("/v1/rooms/kiel") as response:
        assert response.status == 200


async def _holding(site: Site) -> Visitor:
    visitor = site.visitor()
    await visitor.get("/rooms/kiel")
    await site.advance(601)
    assert (await visitor.get("/rooms/kiel")).view == "admitted"
    held = await visitor.post("/rooms/kiel/book/s1/hold", {"group": "g"})
    assert held.status == 303 and held.headers["Location"] == "/rooms/kiel/book/s1"
    return visitor


TAMPERED_HOLDS: list[dict[str, Any]] = [
    {"slot": "s1", "group": "g", "starts_at": "tomorrow", "until": 10**10},
    {"slot": "s1", "group": "g", "starts_at": 1e300, "until": 10**10},
    {"slot": "s1", "group": "g", "starts_at": -1e300, "until": 10**10},
    # The last second of year 9999: no time zone east of UTC can show it.
    {"slot": "s1", "group": "g", "starts_at": 253402300799, "until": 10**10},
    {"slot": "s1", "group": "g", "starts_at": 1620800000, "until": 1e300},
    {"slot": "s1", "group": "g", "until": 10**10},
    {"slot": "s1", "starts_at": 1620800000, "until": 10**10},
    {"slot": "s1", "group": "g", "starts_at": 1620800000, "until": "later"},
    {"slot": "s1", "group": "g", "starts_at": 1620800000, "until": True},
    {"slot": "s1", "group": ["g"], "starts_at": 1620800000, "until": 10**10},
    {"slot": 7, "group": "g", "starts_at": 1620800000, "until": 10**10},
]


@pytest.mark.parametrize("remembered", TAMPERED_HOLDS)
async def test_a_tampered_hold_cookie_counts_as_no_hold(
    site: Site, remembered: dict[str, Any], error_lines: list[logging.LogRecord]
) -> None:
    visitor = await _holding(site)
    visitor.cookies[hold_cookie("kiel")] = encode_cookie(remembered)
    shown = await visitor.get("/rooms/kiel/book/s1")
    assert shown.status == 303 and shown.headers["Location"] == "/rooms/kiel/book"
    picker = await visitor.get("/rooms/kiel/book")
    assert picker.status == 200, picker.text[:300]
    # The backend still knows the hold: confirming books it.
    booked = await visitor.post("/rooms/kiel/book/s1/confirm")
    assert booked.status == 303, booked.text[:300]
    assert "/rooms/kiel/bookings/" in booked.headers["Location"]


async def test_a_hold_cookie_that_is_not_even_json_counts_as_no_hold(
    site: Site, error_lines: list[logging.LogRecord]
) -> None:
    visitor = await _holding(site)
    for value in ("%%%", "bm90IGpzb24", "W10", "ZZZZ\u00e9"):
        visitor.cookies[hold_cookie("kiel")] = value
        shown = await visitor.get("/rooms/kiel/book/s1")
        assert shown.status == 303, (value, shown.text[:300])


async def test_made_up_room_ids_add_no_stylesheet(
    site: Site, error_lines: list[logging.LogRecord]
) -> None:
    async with site.client.get("/rooms/kiel/theme.css") as response:
        assert response.status == 200
        assert "--pq-accent" in await response.text()
    pages = site.app[PAGES]
    prepared = pages.prepared_themes
    for number in range(300):
        async with site.client.get(f"/rooms/made-up-{number}/theme.css") as response:
            assert response.status == 404
        async with site.client.get(f"/rooms/made-up-{number}") as response:
            assert response.status == 404
            # The page of a room that does not exist links no room stylesheet.
            assert "theme.css" not in await response.text()
    assert pages.prepared_themes == prepared
