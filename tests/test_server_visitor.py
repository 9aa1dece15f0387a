"""Visitor routes over HTTP: join, status, leave, room info, handoff, and their errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pyqueue
from tests.helpers.api import (
    OPENS_AT,
    SECRET,
    bearer,
    room_table,
    start_api,
)


def cookie_attributes(response: Any, name: str) -> str:
    header: str = next(h for h in response.headers.getall("Set-Cookie") if h.startswith(name + "="))
    return header


async def test_join_before_opening_enters_the_prequeue(aiohttp_client):
    api = await start_api(aiohttp_client)
    response, body = await api.json("POST", "/v1/rooms/kiel/join", 201)
    assert body["state"] == "prequeue"
    assert body["room"] == "kiel"
    assert body["ahead"] is None
    assert body["opens_in_seconds"] == 3600
    assert body["pass"] is None and body["handoff_url"] is None and body["offer"] is None
    assert body["ticket"].count(".") == 2
    assert set(body["eta"]) == {"low", "seconds", "high", "known", "reason", "admit_per_minute"}
    assert body["eta"]["reason"] == "measuring"
    # Far from opening, polls are spread out, but stay under a third of the heartbeat (60 s).
    assert 500 <= body["poll_after_ms"] <= 20_000 * 1.2
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Cache-Control"] == "no-store"
    cookie = cookie_attributes(response, "pyqueue_ticket_kiel")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie


async def test_cookie_is_secure_when_configured(aiohttp_client):
    api = await start_api(aiohttp_client, cookie_secure=True)
    response, _ = await api.json("POST", "/v1/rooms/kiel/join", 201)
    assert "Secure" in cookie_attributes(response, "pyqueue_ticket_kiel")


async def test_cookie_is_secure_behind_a_trusted_tls_proxy(aiohttp_client):
    api = await start_api(aiohttp_client, trusted_proxy_header="X-Forwarded-For")
    response, _ = await api.json(
        "POST", "/v1/rooms/kiel/join", 201, headers={"X-Forwarded-Proto": "https"}
    )
    assert "Secure" in cookie_attributes(response, "pyqueue_ticket_kiel")


async def test_reload_keeps_the_place(aiohttp_client):
    api = await start_api(aiohttp_client)
    _, first = await api.json("POST", "/v1/rooms/kiel/join", 201)
    # The test client keeps the cookie, as a browser does on reload.
    _, again = await api.json("POST", "/v1/rooms/kiel/join", 200)
    assert again["ticket_id"] == first["ticket_id"]
    _, status = await api.json("GET", "/v1/rooms/kiel/status", 200)
    assert status["ticket_id"] == first["ticket_id"]


async def test_bearer_join_resumes_and_status_takes_bearer(aiohttp_client):
    api = await start_api(aiohttp_client)
    joined = await api.join()
    resumed = await api.join(token=joined["ticket"])
    assert resumed["ticket_id"] == joined["ticket_id"]
    status = await api.status(joined["ticket"])
    assert status["state"] == "prequeue"
    assert "ticket" not in status


async def test_a_stale_cookie_gets_a_new_place(aiohttp_client):
    api = await start_api(aiohttp_client)
    foreign = pyqueue.Signer({"k1": "another-secret-of-32-bytes-long!!"})
    stale = foreign.sign("ticket", "kiel", 7, 1_620_000_000, 1_620_600_000)
    api.client.session.cookie_jar.update_cookies({"pyqueue_ticket_kiel": stale})
    _, body = await api.json("POST", "/v1/rooms/kiel/join", 201)
    assert body["ticket"] != stale


async def test_a_bad_explicit_token_on_join_is_an_error(aiohttp_client):
    api = await start_api(aiohttp_client)
    foreign = pyqueue.Signer({"k1": "another-secret-of-32-bytes-long!!"})
    stale = foreign.sign("ticket", "kiel", 7, 1_620_000_000, 1_620_600_000)
    _, body = await api.json("POST", "/v1/rooms/kiel/join", 401, headers=bearer(stale))
    assert body["error"]["code"] == "token_bad_signature"


async def test_ticket_of_room_a_is_refused_in_room_b(aiohttp_client):
    api = await start_api(aiohttp_client, [room_table("kiel"), room_table("luebeck")])
    kiel = await api.join("kiel")
    _, body = await api.json("GET", "/v1/rooms/luebeck/status", 403, headers=bearer(kiel["ticket"]))
    assert body["error"]["code"] == "token_wrong_room"
    _, body = await api.json("POST", "/v1/rooms/luebeck/join", 403, headers=bearer(kiel["ticket"]))
    assert body["error"]["code"] == "token_wrong_room"


async def test_a_pass_is_refused_where_a_ticket_is_needed(aiohttp_client):
    api = await start_api(aiohttp_client)
    await api.open()
    visitor = await api.admitted_pass()
    for method, path in (("GET", "/v1/rooms/kiel/status"), ("POST", "/v1/rooms/kiel/join")):
        _, body = await api.json(method, path, 403, headers=bearer(visitor["pass"]))
        assert body["error"]["code"] == "token_wrong_kind"


async def test_status_token_errors(aiohttp_client):
    api = await start_api(aiohttp_client)
    response, body = await api.json("GET", "/v1/rooms/kiel/status", 401)
    assert body["error"]["code"] == "token_missing"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _, body = await api.json("GET", "/v1/rooms/kiel/status", 401, headers=bearer("nonsense"))
    assert body["error"]["code"] == "token_malformed"
    _, body = await api.json("GET", "/v1/rooms/kiel/status", 401, headers=bearer("x" * 600))
    assert body["error"]["code"] == "token_malformed"
    unknown_key = pyqueue.Signer({"k9": SECRET}).sign(
        "ticket", "kiel", 0, 1_620_000_000, 1_999_999_999
    )
    _, body = await api.json("GET", "/v1/rooms/kiel/status", 401, headers=bearer(unknown_key))
    assert body["error"]["code"] == "token_unknown_key"
    joined = await api.join()
    tampered = joined["ticket"][:-2] + ("AA" if not joined["ticket"].endswith("AA") else "BB")
    _, body = await api.json("GET", "/v1/rooms/kiel/status", 401, headers=bearer(tampered))
    assert body["error"]["code"] == "token_bad_signature"


async def test_expired_ticket_is_gone(aiohttp_client):
    api = await start_api(aiohttp_client)
    joined = await api.join()
    api.clock.advance(8 * 24 * 3600)
    _, body = await api.json("GET", "/v1/rooms/kiel/status", 410, headers=bearer(joined["ticket"]))
    assert body["error"]["code"] == "token_expired"


async def test_unknown_ticket_and_unknown_room(aiohttp_client):
    api = await start_api(aiohttp_client)
    never_issued = pyqueue.Signer({"k1": SECRET}).sign(
        "ticket", "kiel", 4242, int(OPENS_AT.timestamp()) - 3600, int(OPENS_AT.timestamp()) + 9999
    )
    _, body = await api.json("GET", "/v1/rooms/kiel/status", 404, headers=bearer(never_issued))
    assert body["error"]["code"] == "unknown_ticket"
    for method, path in (
        ("GET", "/v1/rooms/nowhere/status"),
        ("POST", "/v1/rooms/nowhere/join"),
        ("POST", "/v1/rooms/nowhere/leave"),
        ("GET", "/v1/rooms/nowhere"),
        ("GET", "/v1/rooms/nowhere/handoff"),
    ):
        _, body = await api.json(method, path, 404)
        assert body["error"]["code"] == "unknown_room"


async def test_waiting_then_admitted_with_pass_cookie_and_handoff_url(aiohttp_client):
    api = await start_api(
        aiohttp_client,
        [room_table(max_active=1, handoff_url="https://book.example/start?c=1")],
    )
    await api.open()
    first = await api.admitted_pass()
    second = await api.join()
    assert second["state"] == "waiting"
    assert second["ahead"] == 0
    assert second["eta"]["high"] >= second["eta"]["seconds"] >= second["eta"]["low"] >= 0
    # The first visitor is done: capacity goes to the second.
    await api.json("POST", "/v1/rooms/kiel/complete", 200, headers=bearer(first["pass"]))
    await api.advance(1)
    response, status = await api.json(
        "GET", "/v1/rooms/kiel/status", 200, headers=bearer(second["ticket"])
    )
    assert status["state"] == "admitted"
    assert status["pass"] and 0 < status["pass_expires_in_seconds"] <= 900
    assert status["handoff_url"].startswith("https://book.example/start?c=1&pass=")
    assert "pyqueue_pass_kiel" in response.cookies
    assert "HttpOnly" in cookie_attributes(response, "pyqueue_pass_kiel")


async def test_handoff_redirects_with_the_pass(aiohttp_client):
    api = await start_api(aiohttp_client, [room_table(handoff_url="https://book.example/go")])
    await api.open()
    visitor = await api.admitted_pass()
    response = await api.client.get(
        "/v1/rooms/kiel/handoff", headers=bearer(visitor["ticket"]), allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "https://book.example/go?pass=" + visitor["pass"]


async def test_handoff_refused_before_admission_and_without_url(aiohttp_client):
    api = await start_api(
        aiohttp_client,
        [room_table(handoff_url="https://book.example/go"), room_table("plain")],
    )
    waiting = await api.join()
    _, body = await api.json(
        "GET", "/v1/rooms/kiel/handoff", 403, headers=bearer(waiting["ticket"])
    )
    assert body["error"]["code"] == "not_admitted"
    _, body = await api.json("GET", "/v1/rooms/kiel/handoff", 401)
    assert body["error"]["code"] == "token_missing"
    plain = await api.join("plain")
    _, body = await api.json("GET", "/v1/rooms/plain/handoff", 404, headers=bearer(plain["ticket"]))
    assert body["error"]["code"] == "no_handoff_url"


async def test_leave_frees_the_place_and_clears_cookies(aiohttp_client):
    api = await start_api(aiohttp_client)
    await api.json("POST", "/v1/rooms/kiel/join", 201)
    response, body = await api.json("POST", "/v1/rooms/kiel/leave", 200)
    assert body == {"room": "kiel", "state": "left", "previous_state": "prequeue"}
    cleared = cookie_attributes(response, "pyqueue_ticket_kiel")
    assert "Max-Age=0" in cleared or "expires" in cleared.lower()
    _, body = await api.json("POST", "/v1/rooms/kiel/leave", 401)
    assert body["error"]["code"] == "token_missing"


async def test_status_after_leave_says_left(aiohttp_client):
    api = await start_api(aiohttp_client)
    joined = await api.join()
    await api.json("POST", "/v1/rooms/kiel/leave", 200, headers=bearer(joined["ticket"]))
    assert (await api.status(joined["ticket"]))["state"] == "left"


async def test_public_room_info(aiohttp_client):
    slots = [
        {"id": "a", "group": "Kiel", "starts_at": "2021-05-12T08:00:00+02:00"},
        {"id": "b", "group": "Kiel", "starts_at": "2021-05-12T08:10:00+02:00"},
        {"id": "c", "group": "Husum", "starts_at": "2021-05-12T08:10:00+02:00"},
    ]
    api = await start_api(aiohttp_client, slots={"kiel": slots})
    await api.join()
    _, info = await api.json("GET", "/v1/rooms/kiel", 200)
    assert info["state"] == "prequeue"
    assert info["opens_at"] == "2021-05-10T05:00:00Z"
    assert info["opens_in_seconds"] == 3600
    assert info["paused"] is False and info["sold_out"] is False
    assert sorted((g["group"], g["free"]) for g in info["groups"]) == [("Husum", 1), ("Kiel", 2)]
    assert info["admit_per_minute"] == 600


async def test_joins_before_the_prequeue_and_after_closing(aiohttp_client):
    api = await start_api(
        aiohttp_client,
        [
            room_table(
                prequeue_opens_at=(OPENS_AT - timedelta(minutes=30)).isoformat(),
                closes_at=(OPENS_AT + timedelta(hours=2)).isoformat(),
            )
        ],
    )
    response, body = await api.json("POST", "/v1/rooms/kiel/join", 425)
    assert body["error"]["code"] == "not_open_yet"
    assert body["error"]["opens_in_seconds"] == 1800
    assert response.headers["Retry-After"] == "1800"
    api.clock.set(OPENS_AT + timedelta(hours=3))
    _, body = await api.json("POST", "/v1/rooms/kiel/join", 410)
    assert body["error"]["code"] == "room_closed"


async def test_identity_required(aiohttp_client):
    api = await start_api(aiohttp_client, [room_table(identity="required")])
    _, body = await api.json("POST", "/v1/rooms/kiel/join", 400)
    assert body["error"]["code"] == "identity_required"
    await api.json("POST", "/v1/rooms/kiel/join", 201, json={"identity": "code:1"})


async def test_join_body_errors(aiohttp_client):
    api = await start_api(aiohttp_client, max_body_bytes=64)
    cases = [
        (b"{not json", 400, "malformed_json"),
        (b"[1, 2]", 400, "malformed_json"),
        (b'{"identity": 5}', 400, "invalid_argument"),
        (b'{"identity": "   "}', 400, "invalid_argument"),
        (b'{"who": "me"}', 400, "invalid_argument"),
        (b'{"identity": "' + b"x" * 100 + b'"}', 413, "body_too_large"),
    ]
    for data, status, code in cases:
        _, body = await api.json("POST", "/v1/rooms/kiel/join", status, data=data)
        assert body["error"]["code"] == code, data


async def test_identity_longer_than_256_characters_is_refused(aiohttp_client):
    api = await start_api(aiohttp_client)
    _, body = await api.json("POST", "/v1/rooms/kiel/join", 400, json={"identity": "x" * 257})
    assert body["error"]["code"] == "invalid_argument"


async def test_chunked_body_over_the_limit_is_refused(aiohttp_client):
    api = await start_api(aiohttp_client, max_body_bytes=64)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 20

    _, body = await api.json("POST", "/v1/rooms/kiel/join", 413, data=chunks())
    assert body["error"]["code"] == "body_too_large"


async def test_join_rate_limit_per_address(aiohttp_client):
    api = await start_api(aiohttp_client, join_rate_per_minute=1, join_rate_burst=2)
    await api.join()
    await api.join()
    response, body = await api.json("POST", "/v1/rooms/kiel/join", 429)
    assert body["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1
    # Without a trusted proxy header, a client cannot pick another address for itself.
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/join", 429, headers={"X-Forwarded-For": "203.0.113.9"}
    )


async def test_join_rate_limit_behind_a_trusted_proxy(aiohttp_client):
    api = await start_api(
        aiohttp_client,
        join_rate_per_minute=1,
        join_rate_burst=1,
        trusted_proxy_header="X-Forwarded-For",
    )

    async def join_from(address: str, status: int) -> None:
        await api.json("POST", "/v1/rooms/kiel/join", status, headers={"X-Forwarded-For": address})
        api.client.session.cookie_jar.clear()

    await join_from("198.51.100.1", 201)
    await join_from("198.51.100.2", 201)
    await join_from("198.51.100.1", 429)
    # The proxy appends the address it saw; what the client claims before it does not count.
    await join_from("198.51.100.7, 198.51.100.2", 429)


async def test_poll_interval_grows_with_distance(aiohttp_client):
    api = await start_api(
        aiohttp_client, [room_table(admit_per_minute=6, heartbeat_timeout_seconds=600)]
    )
    await api.open()
    await api.json("POST", "/v1/admin/rooms/kiel/queue-all", 200, headers=api_admin())
    tickets = [await api.join() for _ in range(300)]
    near = [(await api.status(t["ticket"]))["poll_after_ms"] for t in tickets[:5]]
    far = [(await api.status(t["ticket"]))["poll_after_ms"] for t in tickets[-5:]]
    assert max(near) < min(far)
    assert all(ms <= 200_000 * 1.2 for ms in far)


def api_admin() -> dict[str, str]:
    from tests.helpers.api import ADMIN

    return ADMIN


async def test_a_body_that_does_not_arrive_gets_408(aiohttp_client):
    api = await start_api(aiohttp_client, body_timeout_seconds=0.2)
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    # Ten bytes announced, two sent: the server must not wait for the rest forever.
    writer.write(
        b"POST /v1/rooms/kiel/join HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10\r\n\r\n{}"
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    assert head.startswith(b"HTTP/1.1 408")
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        ).split(b":")[1]
    )
    body = json.loads(await reader.readexactly(length))
    assert body["error"]["code"] == "timeout"
    writer.close()


async def test_an_empty_bearer_on_a_join_is_refused_not_a_new_place(aiohttp_client):
    """An app whose stored ticket got lost sends "Bearer " with nothing after it: it is told,
    as with an empty ``ticket`` in the body, instead of silently queued again at the back."""
    api = await start_api(aiohttp_client)
    for headers, data in (({"Authorization": "Bearer "}, b"{}"), ({}, b'{"ticket": ""}')):
        _, body = await api.json(
            "POST",
            "/v1/rooms/kiel/join",
            401,
            headers={**headers, "Content-Type": "application/json"},
            data=data,
        )
        assert body["error"]["code"] == "token_malformed", body
