"""Booking routes: free slots, hold, confirm, give a hold back, waiting-list offers, bookings by
code, and the server-to-server pass check of booking sites.

The pass (from ``Authorization: Bearer`` or the pass cookie) books. A waiting-list offer goes to
a waiting visitor, so confirming or declining one also takes the ticket. Booking sites that
confirm on their visitor's behalf use the service token and send the visitor's token in the
body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from pyqueue.server import render
from pyqueue.server.code_limit import by_code, cancel_by_code
from pyqueue.server.errors import ApiError
from pyqueue.server.httpio import (
    MAX_ROOM_ID_CHARS,
    MAX_TOKEN_CHARS,
    bearer,
    bearer_matches,
    cookie,
    json_response,
    optional_string,
    query_int,
    read_json_object,
    reject_unknown,
    require_bearer,
)
from pyqueue.server.state import STATE, RoomMeta

MAX_PAGE: Final = 500
_NO_TOKEN: Final = "send the pass as Authorization: Bearer or cookie"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/v1/rooms/{room}/slots", free_slots),
        web.post("/v1/rooms/{room}/slots/{slot}/hold", hold),
        web.delete("/v1/rooms/{room}/slots/{slot}/hold", release_hold),
        web.post("/v1/rooms/{room}/slots/{slot}/confirm", confirm),
        web.post("/v1/rooms/{room}/offer/decline", decline_offer),
        web.post("/v1/rooms/{room}/complete", complete),
        web.get("/v1/rooms/{room}/bookings/{code}", get_booking),
        web.post("/v1/rooms/{room}/bookings/{code}/cancel", cancel),
        web.post("/v1/handoff/verify", verify),
    ]


def _pass(request: web.Request, meta: RoomMeta) -> str:
    token = bearer(request) or cookie(request, meta.pass_cookie)
    if token is None:
        raise ApiError("token_missing", _NO_TOKEN)
    return token


def _pass_or_ticket(request: web.Request, meta: RoomMeta) -> str:
    token = (
        bearer(request) or cookie(request, meta.pass_cookie) or cookie(request, meta.ticket_cookie)
    )
    if token is None:
        raise ApiError("token_missing", "send the pass or ticket as Authorization: Bearer")
    return token


async def free_slots(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    await state.backend.verify_pass(room, _pass(request, meta))
    group = request.query.get("group") or None
    offset = query_int(request, "offset", 0, 0, 10**9)
    limit = query_int(request, "limit", 100, 1, MAX_PAGE)
    # One more than asked tells whether there is a next page without counting them all.
    slots = await state.backend.free_slots(room, group, offset, limit + 1)
    groups = await state.backend.availability(room)
    more = len(slots) > limit
    return json_response(
        {
            "room": room,
            "group": group,
            "groups": [
                {"group": g.group, "free": g.free}
                for g in groups
                if group is None or g.group == group
            ],
            "slots": [render.slot(s) for s in slots[:limit]],
            "offset": offset,
            "limit": limit,
            "next_offset": offset + limit if more else None,
        }
    )


async def hold(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    held = await state.backend.hold(room, request.match_info["slot"], _pass(request, meta))
    state.metrics.holds[room] += 1
    return json_response(render.hold(held, state.now()), status=201)


async def release_hold(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    slot = request.match_info["slot"]
    await state.backend.release_hold(room, slot, _pass_or_ticket(request, meta))
    return json_response({"room": room, "slot": slot, "state": "released"})


async def _on_behalf(request: web.Request, own: Callable[[], str]) -> str:
    """The visitor's token: from the body (``token``) when a booking site calls with the
    service token on its visitor's behalf, else ``own()`` (the request's own credentials, by
    the caller's rule)."""
    state = request.app[STATE]
    data = await read_json_object(request, state.server)
    reject_unknown(data, {"token"})
    if _service_call(request):
        token = optional_string(data, "token", MAX_TOKEN_CHARS)
        if token is None:
            raise ApiError(
                "invalid_argument", "with the service token, send the visitor's token as token"
            )
        return token
    if "token" in data:
        raise ApiError("invalid_argument", "token in the body needs the service token")
    return own()


def _service_call(request: web.Request) -> bool:
    return bearer_matches(request, request.app[STATE].server.service_token)


async def confirm(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    token = await _on_behalf(request, lambda: _pass_or_ticket(request, meta))
    booked = await state.backend.confirm(room, request.match_info["slot"], token)
    state.metrics.bookings[room] += 1
    return json_response(render.booking(booked), status=201)


async def decline_offer(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    await state.backend.decline_offer(room, _pass_or_ticket(request, meta))
    return json_response({"room": room, "offer": "declined"})


async def complete(request: web.Request) -> web.Response:
    """The visitor is done with booking: the session's capacity goes to the next in line. In
    handoff mode this is the only way pyqueue learns that a session ended before its pass
    expires, so booking sites send it server to server: the service token, and the visitor's
    pass as ``token``."""
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    token = await _on_behalf(request, lambda: _pass(request, meta))
    await state.backend.complete(room, token)
    response = json_response({"room": room, "state": "completed"})
    if not _service_call(request):
        response.del_cookie(meta.pass_cookie, path="/")
    return response


async def get_booking(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    code = request.match_info["code"]
    found = await by_code(request, state, room, lambda: state.backend.booking(room, code))
    return json_response(render.booking(found))


async def cancel(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    code = request.match_info["code"]
    cancelled = await cancel_by_code(request, state, room, code)
    return json_response(render.booking(cancelled))


async def verify(request: web.Request) -> web.Response:
    """For booking sites, server to server: is this pass valid, and for whom?"""
    state = request.app[STATE]
    require_bearer(
        request,
        state.server.service_token,
        "service",
        "no service_token is configured on this server",
    )
    data = await read_json_object(request, state.server)
    reject_unknown(data, {"pass", "room"})
    token = optional_string(data, "pass", MAX_TOKEN_CHARS)
    room = optional_string(data, "room", MAX_ROOM_ID_CHARS)
    if token is None or room is None:
        raise ApiError("invalid_argument", "send pass and room")
    info = await state.backend.verify_pass(room, token)
    body: dict[str, Any] = {
        "valid": True,
        "room": info.room,
        "ticket_id": info.ticket,
        "sub": info.sub,
        "issued_at": info.issued_at,
        "expires_at": info.expires_at,
        "expires_in_seconds": max(0, round(info.expires_at.timestamp() - state.now())),
    }
    return json_response(body)
