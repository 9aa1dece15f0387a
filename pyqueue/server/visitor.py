"""Visitor routes: join, status (the hot path of a surge), leave, public room info, handoff.

A visitor's ticket travels as a cookie (browsers) or as ``Authorization: Bearer`` (apps, which
get it as ``ticket`` in the join answer). The ticket is for the queue; the pass it earns is for
booking, and each route takes the kind it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from pyqueue._core import Status, TokenError, UnknownTicket
from pyqueue.config import text_rule
from pyqueue.server import polling, render
from pyqueue.server.challenge import pay_for_join
from pyqueue.server.entry import check_entry, entry_token
from pyqueue.server.errors import ApiError, response_for_exception
from pyqueue.server.httpio import (
    MAX_TOKEN_CHARS,
    bearer,
    cookie,
    json_response,
    optional_string,
    read_json_object,
    reject_unknown,
    reject_unknown_query,
    set_visitor_cookie,
    take_join_slot,
)
from pyqueue.server.polling import retry_after
from pyqueue.server.state import STATE, RoomMeta, ServerState

_JSON: Final = "application/json"
_NO_STORE: Final = "no-store"
#: A ticket cookie lives as long as a ticket token may (the core's ticket lifetime).
TICKET_COOKIE_SECONDS: Final = 7 * 24 * 3600
#: The longest identity (the core refuses longer ones, and any other break of its rule).
IDENTITY_MAX: Final = text_rule("identity")[0]
#: ``(room, ticket token, poll cap in ms, random in [0, 1))`` -> ``(body, poll_ms, status)``.
StatusPoll = Callable[[str, str, int, float], tuple[bytes | None, int, Status | None]]


#: Routes named with this prefix are the status route of one room, matched by a dict lookup
#: instead of a pattern; see :func:`status_routes`.
ROOM_STATUS_ROUTE: Final = "status-of-"
STATUS_PATH: Final = "/v1/rooms/{room}/status"
#: The status route in the metrics, whichever room's own route answered.
STATUS_LABEL: Final = f"GET {STATUS_PATH}"


def status_routes(state: ServerState, fast_rooms: Iterable[str] = ()) -> list[web.RouteDef]:
    """The status routes. The rooms in ``fast_rooms`` get a route of their own path: aiohttp
    finds those by a dict lookup, not by trying patterns, which is a tenth of the cost of a
    poll."""
    return [
        *(
            web.get(
                STATUS_PATH.format(room=room),
                status_handler(state, room),
                name=ROOM_STATUS_ROUTE + room,
            )
            for room in fast_rooms
        ),
        web.get(STATUS_PATH, status_handler(state)),
    ]


def routes() -> list[web.RouteDef]:
    """The other visitor routes."""
    return [
        web.post("/v1/rooms/{room}/join", join),
        web.post("/v1/rooms/{room}/leave", leave),
        web.get("/v1/rooms/{room}", room_info),
        web.get("/v1/rooms/{room}/handoff", handoff),
    ]


def status_handler(state: ServerState, fixed_room: str | None = None) -> Handler:
    """The status poll, the most frequent request of a surge, so kept lean: bound to the
    state (and to one room for the fast routes), with the token read inline, its headers
    prepared once per ``Retry-After`` value, and its own error answer and count."""
    rooms = state.rooms
    backend = state.backend
    now = state.now
    requests = state.metrics.requests
    token_failures = state.metrics.token_failures
    answered = (STATUS_LABEL, 200)
    # A backend that can answer a waiting visitor's poll in one native call offers
    # ``status_poll`` (memory from its room, Redis from its cached counters); what it leaves
    # (passes, offers, a Redis cache due for a refresh) and any other backend take the
    # general path.
    fast: StatusPoll | None = getattr(backend, "status_poll", None)

    async def status(request: web.Request) -> web.StreamResponse:
        try:
            room = fixed_room or request.match_info["room"]
            meta = rooms.get(room) or await state.room(room)
            token = request.headers.get("Authorization")
            if token is not None and token[:7].lower() == "bearer ":
                token = token[7:].strip() or None
            else:
                token = cookie(request, meta.ticket_cookie)
            if token is None:
                raise ApiError(
                    "token_missing", "send the ticket as cookie or Authorization: Bearer"
                )
            st: Status | None = None
            if fast is not None:
                body, poll_ms, st = fast(room, token, meta.poll_cap_ms, polling._random())
                if body is not None:
                    requests[answered] += 1
                    return web.Response(body=body, headers=_status_headers(poll_ms))
            if st is None:
                st = await backend.status(room, token)
            # A pass, an offer, or a backend without the fast path: the general answer.
            body, poll_ms, has_pass = render.status_json(
                room, st, meta.poll_cap_ms, now, meta.handoff_url
            )
            response = web.Response(body=body, headers=_status_headers(poll_ms))
            if has_pass:
                _set_pass_cookie(request, state, meta, response, st)
        except Exception as exc:
            response = response_for_exception(exc, request, token_failures)
        requests[(STATUS_LABEL, response.status)] += 1
        return response

    return status


#: The headers of a status answer by ``Retry-After`` value; aiohttp copies them per answer,
#: which is cheaper than building them from a dict.
_STATUS_HEADERS: dict[str, CIMultiDict[str]] = {}


def _status_headers(poll_ms: int) -> CIMultiDict[str]:
    seconds = retry_after(poll_ms)
    headers = _STATUS_HEADERS.get(seconds)
    if headers is None:
        headers = CIMultiDict(
            {"Content-Type": _JSON, "Cache-Control": _NO_STORE, "Retry-After": seconds}
        )
        _STATUS_HEADERS[seconds] = headers
    return headers


async def join(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    if request.query:
        # A ticket in the URL would end up in logs and Referer headers; and a parameter the
        # join ignored would give a new place at the back without a word.
        reject_unknown_query(request)
    take_join_slot(request, state)
    data = await read_json_object(request, state.server)
    reject_unknown(data, {"identity", "entry", "challenge", "ticket"})
    # Whoever knows an identity can send it: over HTTP it proves nothing, so it is only the
    # new ticket's label and never hands out (or blocks) another client's place. The portal's
    # entry token is what vouches for a person (entry rooms).
    label = optional_string(data, "identity", IDENTITY_MAX)
    if label is not None and not label.strip():
        raise ApiError("invalid_argument", "identity must not be blank")
    explicit = _ticket_to_resume(request, data)
    from_cookie = cookie(request, meta.ticket_cookie)
    resume = explicit if explicit is not None else from_cookie
    entry = entry_token(data, meta, resume)
    if entry is not None:
        # The cheap check that names the person comes first: a refused token costs the
        # visitor no work, and the work is asked only of a join that may take a place.
        check_entry(state, meta, entry)
    await pay_for_join(state, meta, data.get("challenge"), resume)
    try:
        ticket = await state.backend.join(room, None, resume, entry, label=label)
    except (TokenError, UnknownTicket):
        # A stale cookie (a restart with new keys, another deployment) must not lock the
        # browser out: it simply gets a new place. A token the app sent explicitly is an error.
        if explicit is not None or from_cookie is None:
            raise
        ticket = await state.backend.join(room, None, None, entry, label=label)
    st = await state.backend.status(room, ticket.token)
    body, poll_ms = render.status(room, st, meta.poll_cap_ms, state.now, meta.handoff_url)
    body["ticket"] = ticket.token
    response = json_response(
        body, status=201 if ticket.new else 200, headers={"Retry-After": retry_after(poll_ms)}
    )
    set_visitor_cookie(
        request, response, state.server, meta.ticket_cookie, ticket.token, TICKET_COOKIE_SECONDS
    )
    if st.pass_token is not None:
        _set_pass_cookie(request, state, meta, response, st)
    state.metrics.count_join(room, ticket.new)
    return response


def _ticket_to_resume(request: web.Request, data: dict[str, Any]) -> str | None:
    """The ticket token an app sends to resume its place: as ``Authorization: Bearer`` or as
    ``ticket`` in the body (the Python API's ``ticket=``). Only the signed token finds a place;
    a ticket number or anything else that is not this room's ticket token is refused, never
    taken for a new place."""
    from_body = optional_string(data, "ticket", MAX_TOKEN_CHARS)
    from_header = bearer(request)
    if from_header is None and _says_bearer(request):
        # "Bearer " with nothing after it: an app whose ticket got lost must hear so, as with
        # ``{"ticket": ""}``, not be handed a new place at the back.
        raise ApiError("token_malformed", "the Authorization header names no ticket token")
    if from_body is not None and from_header is not None and from_body != from_header:
        raise ApiError(
            "invalid_argument", "the ticket in the body differs from the Authorization token"
        )
    return from_body if from_body is not None else from_header


def _says_bearer(request: web.Request) -> bool:
    return request.headers.get("Authorization", "").strip().lower() == "bearer"


async def leave(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    token = (
        bearer(request) or cookie(request, meta.ticket_cookie) or cookie(request, meta.pass_cookie)
    )
    if token is None:
        raise ApiError("token_missing", "send the ticket as cookie or Authorization: Bearer")
    before = await state.backend.leave(room, token)
    response = json_response({"room": room, "state": "left", "previous_state": before})
    for name in (meta.ticket_cookie, meta.pass_cookie):
        response.del_cookie(name, path="/")
    return response


async def room_info(request: web.Request) -> web.Response:
    state = request.app[STATE]
    room = request.match_info["room"]
    config = await state.backend.room_config(room)
    info = await state.backend.room_info(room)
    return json_response(render.public_room(config, info))


async def handoff(request: web.Request) -> web.Response:
    """Sends an admitted visitor on to the portal's booking site, with the pass."""
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    if meta.handoff_url is None:
        raise ApiError("no_handoff_url", "this room has no handoff_url; use the slot API")
    token = bearer(request) or cookie(request, meta.ticket_cookie)
    if token is None:
        raise ApiError("token_missing", "send the ticket as cookie or Authorization: Bearer")
    st = await state.backend.status(room, token)
    if st.pass_token is None:
        raise ApiError("not_admitted", f"the ticket is {st.state}, not admitted")
    response = web.Response(
        status=303,
        headers=CIMultiDict(
            {
                "Location": render.handoff_link(meta.handoff_url, st.pass_token),
                "Cache-Control": _NO_STORE,
            }
        ),
    )
    _set_pass_cookie(request, state, meta, response, st)
    return response


def _set_pass_cookie(
    request: web.Request,
    state: ServerState,
    meta: RoomMeta,
    response: web.Response,
    st: Status,
) -> None:
    # The pass goes along as a cookie too, so a reverse proxy in front of the booking site can
    # let the browser through (see /v1/check).
    assert st.pass_token is not None
    set_visitor_cookie(
        request,
        response,
        state.server,
        meta.pass_cookie,
        st.pass_token,
        int(st.pass_expires_in_seconds),
    )
