"""Booking routes over HTTP: slots, hold, confirm, cancel, offers, verify, and their errors."""

from __future__ import annotations

import pyqueue
from tests.helpers.api import (
    SECRET,
    SERVICE,
    bearer,
    room_table,
    slot_table,
    start_api,
)


async def open_room(aiohttp_client, rooms=None, count: int = 6, **server):
    api = await start_api(
        aiohttp_client,
        rooms,
        slots={(rooms or [room_table()])[0]["id"]: slot_table(count, ("Kiel A", "Kiel B"))},
        **server,
    )
    await api.open()
    return api


async def test_free_slots_paged_and_by_group(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    auth = bearer(visitor["pass"])
    _, page = await api.json("GET", "/v1/rooms/kiel/slots?limit=4", 200, headers=auth)
    assert len(page["slots"]) == 4
    assert page["next_offset"] == 4
    assert sorted(page["groups"], key=lambda g: g["group"]) == [
        {"group": "Kiel A", "free": 6},
        {"group": "Kiel B", "free": 6},
    ]
    seen = [s["id"] for s in page["slots"]]
    offset = page["next_offset"]
    while offset is not None:
        _, page = await api.json(
            "GET", f"/v1/rooms/kiel/slots?limit=4&offset={offset}", 200, headers=auth
        )
        seen += [s["id"] for s in page["slots"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == 12
    _, page = await api.json("GET", "/v1/rooms/kiel/slots?group=Kiel%20B", 200, headers=auth)
    assert {s["group"] for s in page["slots"]} == {"Kiel B"}
    assert page["groups"] == [{"group": "Kiel B", "free": 6}]
    slot = page["slots"][0]
    assert slot["state"] == "free" and slot["starts_at"].endswith("Z")


async def test_free_slots_need_a_pass(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    _, body = await api.json("GET", "/v1/rooms/kiel/slots", 401)
    assert body["error"]["code"] == "token_missing"
    _, body = await api.json("GET", "/v1/rooms/kiel/slots", 403, headers=bearer(visitor["ticket"]))
    assert body["error"]["code"] == "token_wrong_kind"
    for query in ("limit=0", "limit=501", "offset=-1", "limit=x"):
        _, body = await api.json(
            "GET", f"/v1/rooms/kiel/slots?{query}", 400, headers=bearer(visitor["pass"])
        )
        assert body["error"]["code"] == "invalid_argument"


async def test_hold_confirm_cancel(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    auth = bearer(visitor["pass"])
    _, held = await api.json("POST", "/v1/rooms/kiel/slots/g0-s1/hold", 201, headers=auth)
    assert held["slot"] == "g0-s1" and held["group"] == "Kiel A"
    assert 0 < held["expires_in_seconds"] <= 300
    assert held["ticket_id"] == visitor["ticket_id"]
    _, booked = await api.json("POST", "/v1/rooms/kiel/slots/g0-s1/confirm", 201, headers=auth)
    assert booked["slot"] == "g0-s1" and booked["state"] == "booked" and booked["code"]
    code = booked["code"]
    _, found = await api.json("GET", f"/v1/rooms/kiel/bookings/{code}", 200)
    assert found == booked
    _, cancelled = await api.json("POST", f"/v1/rooms/kiel/bookings/{code}/cancel", 200)
    assert cancelled["state"] == "cancelled" and cancelled["slot"] == "g0-s1"
    assert found["cancelled_at"] is None and cancelled["cancelled_at"] is not None
    # The code keeps answering with the cancellation; a second cancel changes nothing.
    await api.json("POST", f"/v1/rooms/kiel/bookings/{code}/cancel", 200)
    _, again = await api.json("GET", f"/v1/rooms/kiel/bookings/{code}", 200)
    assert again == cancelled
    _, body = await api.json("GET", "/v1/rooms/kiel/bookings/NOPE", 404)
    assert body["error"]["code"] == "unknown_booking"


async def test_a_taken_slot_answers_with_alternatives(aiohttp_client):
    api = await open_room(aiohttp_client)
    first = await api.admitted_pass()
    second = await api.admitted_pass()
    await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=bearer(first["pass"]))
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s0/hold", 409, headers=bearer(second["pass"])
    )
    error = body["error"]
    assert error["code"] == "slot_taken" and error["slot"] == "g0-s0"
    assert error["alternatives"] and all(a.startswith("g0-") for a in error["alternatives"])
    assert "g0-s0" not in error["alternatives"]


async def test_limit_reached_and_unknown_slot(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    auth = bearer(visitor["pass"])
    await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=auth)
    _, body = await api.json("POST", "/v1/rooms/kiel/slots/g0-s1/hold", 409, headers=auth)
    assert body["error"]["code"] == "limit_reached" and body["error"]["limit"] == 1
    _, body = await api.json("POST", "/v1/rooms/kiel/slots/nope/hold", 404, headers=auth)
    assert body["error"]["code"] == "unknown_slot"
    _, body = await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 401)
    assert body["error"]["code"] == "token_missing"
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s2/hold", 403, headers=bearer(visitor["ticket"])
    )
    assert body["error"]["code"] == "token_wrong_kind"


async def test_hold_given_back_and_confirm_without_hold(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    auth = bearer(visitor["pass"])
    await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=auth)
    _, body = await api.json("DELETE", "/v1/rooms/kiel/slots/g0-s0/hold", 200, headers=auth)
    assert body == {"room": "kiel", "slot": "g0-s0", "state": "released"}
    _, body = await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 409, headers=auth)
    assert body["error"]["code"] == "no_hold"


async def test_someone_elses_hold_cannot_be_confirmed(aiohttp_client):
    api = await open_room(aiohttp_client)
    first = await api.admitted_pass()
    second = await api.admitted_pass()
    await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=bearer(first["pass"]))
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 409, headers=bearer(second["pass"])
    )
    assert body["error"]["code"] == "not_holder"


async def test_an_expired_hold_cannot_be_confirmed(aiohttp_client):
    api = await open_room(aiohttp_client, [room_table(hold_seconds=60)])
    visitor = await api.admitted_pass()
    auth = bearer(visitor["pass"])
    await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=auth)
    api.clock.advance(61)
    _, body = await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 409, headers=auth)
    assert body["error"]["code"] in ("hold_expired", "no_hold")


async def test_an_expired_pass_cannot_hold(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    api.clock.advance(901)
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s0/hold", 410, headers=bearer(visitor["pass"])
    )
    assert body["error"]["code"] == "token_expired"


async def test_service_token_confirms_for_the_visitor(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=bearer(visitor["pass"]))
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 400, headers=SERVICE, json={}
    )
    assert body["error"]["code"] == "invalid_argument"
    _, booked = await api.json(
        "POST",
        "/v1/rooms/kiel/slots/g0-s0/confirm",
        201,
        headers=SERVICE,
        json={"token": visitor["pass"]},
    )
    assert booked["ticket_id"] == visitor["ticket_id"]


async def test_token_in_the_body_needs_the_service_token(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    _, body = await api.json(
        "POST",
        "/v1/rooms/kiel/slots/g0-s0/confirm",
        400,
        headers=bearer(visitor["pass"]),
        json={"token": visitor["pass"]},
    )
    assert body["error"]["code"] == "invalid_argument"
    _, body = await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 400, data=b"[]")
    assert body["error"]["code"] == "malformed_json"


async def test_complete_ends_the_session(aiohttp_client):
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/complete", 200, headers=bearer(visitor["pass"])
    )
    assert body == {"room": "kiel", "state": "completed"}
    status = await api.status(visitor["ticket"])
    assert status["state"] == "completed" and status["pass"] is None
    _, body = await api.json("POST", "/v1/rooms/kiel/complete", 401)
    assert body["error"]["code"] == "token_missing"


async def test_a_booking_site_completes_its_visitor_s_session_server_to_server(aiohttp_client):
    """The handoff signal: the service token, and the visitor's pass as ``token``."""
    api = await open_room(aiohttp_client)
    visitor = await api.admitted_pass()
    _, body = await api.json("POST", "/v1/rooms/kiel/complete", 400, headers=SERVICE, json={})
    assert body["error"]["code"] == "invalid_argument"
    response, body = await api.json(
        "POST",
        "/v1/rooms/kiel/complete",
        200,
        headers=SERVICE,
        json={"token": visitor["pass"]},
    )
    assert body == {"room": "kiel", "state": "completed"}
    # Not the visitor's own browser: no pass cookie is cleared.
    assert "Set-Cookie" not in response.headers
    status = await api.status(visitor["ticket"])
    assert status["state"] == "completed" and status["pass"] is None
    # The visitor's own call cannot name a token in the body.
    other = await api.admitted_pass()
    _, body = await api.json(
        "POST",
        "/v1/rooms/kiel/complete",
        400,
        headers=bearer(other["pass"]),
        json={"token": other["pass"]},
    )
    assert body["error"]["code"] == "invalid_argument"


async def test_verify_pass_for_booking_sites(aiohttp_client):
    api = await open_room(aiohttp_client, [room_table("kiel"), room_table("luebeck")])
    visitor = await api.admitted_pass()
    _, body = await api.json(
        "POST",
        "/v1/handoff/verify",
        200,
        headers=SERVICE,
        json={"pass": visitor["pass"], "room": "kiel"},
    )
    assert body["valid"] is True and body["room"] == "kiel"
    assert body["ticket_id"] == visitor["ticket_id"]
    assert body["expires_at"].endswith("Z") and 0 < body["expires_in_seconds"] <= 900
    cases = [
        ({"pass": visitor["pass"], "room": "luebeck"}, 403, "token_wrong_room"),
        ({"pass": visitor["ticket"], "room": "kiel"}, 403, "token_wrong_kind"),
        ({"pass": "garbage", "room": "kiel"}, 401, "token_malformed"),
        ({"pass": visitor["pass"], "room": "nowhere"}, 404, "unknown_room"),
        ({"pass": visitor["pass"]}, 400, "invalid_argument"),
        ({"pass": 1, "room": "kiel"}, 400, "invalid_argument"),
        ({"pass": visitor["pass"], "room": "kiel", "x": 1}, 400, "invalid_argument"),
    ]
    for payload, status, code in cases:
        _, body = await api.json(
            "POST", "/v1/handoff/verify", status, headers=SERVICE, json=payload
        )
        assert body["error"]["code"] == code, payload
    api.clock.advance(901)
    _, body = await api.json(
        "POST",
        "/v1/handoff/verify",
        410,
        headers=SERVICE,
        json={"pass": visitor["pass"], "room": "kiel"},
    )
    assert body["error"]["code"] == "token_expired"


async def test_verify_needs_the_service_token(aiohttp_client):
    api = await open_room(aiohttp_client)
    payload = {"pass": "x", "room": "kiel"}
    response, body = await api.json("POST", "/v1/handoff/verify", 401, json=payload)
    assert body["error"]["code"] == "unauthorized"
    assert "WWW-Authenticate" in response.headers
    _, body = await api.json(
        "POST", "/v1/handoff/verify", 401, json=payload, headers=bearer("wrong-token-xxxxxxxx")
    )
    assert body["error"]["code"] == "unauthorized"
    no_service = await start_api(aiohttp_client, service_token=None)
    _, body = await no_service.json(
        "POST", "/v1/handoff/verify", 403, json=payload, headers=SERVICE
    )
    assert body["error"]["code"] == "forbidden"


async def test_waiting_list_offer_in_status_confirm_and_decline(aiohttp_client):
    rooms = [room_table(max_active=1, returned_slots="waitlist", offer_seconds=120)]
    api = await open_room(aiohttp_client, rooms)
    booker = await api.admitted_pass()
    _, booked = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=bearer(booker["pass"])
    )
    _, booked = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 201, headers=bearer(booker["pass"])
    )
    # Booking all they may ends the booker's session: the next join takes the capacity.
    assert (await api.join())["state"] == "admitted"
    waiting = [await api.join() for _ in range(2)]
    assert [w["state"] for w in waiting] == ["waiting", "waiting"]
    _, body = await api.json(
        "POST", "/v1/rooms/kiel/offer/decline", 409, headers=bearer(waiting[0]["ticket"])
    )
    assert body["error"]["code"] == "no_offer"
    await api.json("POST", f"/v1/rooms/kiel/bookings/{booked['code']}/cancel", 200)
    await api.tick()
    first = await api.status(waiting[0]["ticket"])
    assert first["offer"]["slot"] == "g0-s0"
    assert 0 < first["offer"]["expires_in_seconds"] <= 120
    assert first["offer"]["until"].endswith("Z")
    # Declined, it passes on to the next in line.
    await api.json(
        "POST", "/v1/rooms/kiel/offer/decline", 200, headers=bearer(waiting[0]["ticket"])
    )
    await api.tick()
    assert (await api.status(waiting[0]["ticket"]))["offer"] is None
    second = await api.status(waiting[1]["ticket"])
    assert second["offer"]["slot"] == "g0-s0"
    _, booking = await api.json(
        "POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 201, headers=bearer(waiting[1]["ticket"])
    )
    assert booking["ticket_id"] == waiting[1]["ticket_id"]


async def test_booking_routes_of_an_unknown_room(aiohttp_client):
    api = await open_room(aiohttp_client)
    token = pyqueue.Signer({"k1": SECRET}).sign("pass", "nowhere", 1, 0, 2_000_000_000)
    for method, path in (
        ("GET", "/v1/rooms/nowhere/slots"),
        ("POST", "/v1/rooms/nowhere/slots/a/hold"),
        ("DELETE", "/v1/rooms/nowhere/slots/a/hold"),
        ("POST", "/v1/rooms/nowhere/slots/a/confirm"),
        ("POST", "/v1/rooms/nowhere/offer/decline"),
        ("POST", "/v1/rooms/nowhere/complete"),
        ("GET", "/v1/rooms/nowhere/bookings/x"),
        ("POST", "/v1/rooms/nowhere/bookings/x/cancel"),
    ):
        _, body = await api.json(method, path, 404, headers=bearer(token))
        assert body["error"]["code"] == "unknown_room", path
