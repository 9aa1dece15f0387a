"""``GET /v1/check?room=``: may this request through to the booking site?

Made for nginx ``auth_request``, which asks on every request of the protected site and turns
the 401 into a redirect itself; Caddy's ``forward_auth`` hands the 401 to the visitor as it is,
so its configuration (:mod:`pyqueue.server.caddy`) redirects browsers itself. The answer comes
from the pass alone (signature, room, kind and expiry; no state is read): 204 when the pass is
valid, else 401 with the waiting room's location in ``Location`` and in ``X-Pyqueue-Location``.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from pyqueue._core import TokenError
from pyqueue.server.errors import error_response, response_for_exception
from pyqueue.server.httpio import MAX_ROOM_ID_CHARS, bearer, find_cookie, pass_cookie
from pyqueue.server.state import ServerState

#: Header a proxy may use to hand over the pass when it is neither cookie nor bearer.
PASS_HEADER: Final = "X-Pyqueue-Pass"
_ROOM_REQUIRED: Final = f"room (1 to {MAX_ROOM_ID_CHARS} characters) is required"


#: The check in the metrics.
CHECK_LABEL: Final = "GET /v1/check"


def routes(state: ServerState) -> list[web.RouteDef]:
    return [web.get("/v1/check", check_handler(state))]


def check_handler(state: ServerState) -> Handler:
    """The check, bound to the state: it runs before every request of the protected site, so
    it answers its own errors and counts itself instead of going through the route wrapper."""
    rooms = state.rooms
    check_pass = state.backend.pass_checker()
    # Where the rooms run on this node's own clock the core reads it itself (``now=None``),
    # which spares two Python calls per check; a virtual clock or Redis's time must be passed.
    token_now = None if state.backend.clock_status().source == "system" else state.token_now
    requests = state.metrics.requests
    failures = state.metrics.token_failures
    public_url = state.server.public_url.rstrip("/")

    def answer(request: web.Request) -> web.Response:
        room = request.query.get("room")
        if not room or len(room) > MAX_ROOM_ID_CHARS:
            return error_response("invalid_argument", _ROOM_REQUIRED)
        headers = request.headers
        meta = rooms.get(room)
        # The protected site may use Authorization for itself, so the pass header and the
        # cookie come first.
        token = headers.get(PASS_HEADER)
        if token is None:
            cookies = headers.get("Cookie")
            if cookies is not None:
                token = find_cookie(cookies, meta.pass_cookie if meta else pass_cookie(room))
            if token is None:
                token = bearer(request)
        if token is not None:
            try:
                # Positional: PyO3 parses keywords several times slower.
                ticket = check_pass(room, token, token_now() if token_now else None)
            except TokenError as exc:
                code = str(getattr(exc, "code", "token_malformed"))
                message = str(exc)
            else:
                return web.Response(status=204, headers={"X-Pyqueue-Ticket": str(ticket)})
        else:
            code = "token_missing"
            message = "no pass: send it as cookie, Authorization: Bearer or X-Pyqueue-Pass"
        failures[code] += 1
        path = meta.waiting_room_path if meta else "/rooms/" + quote(room, safe="")
        location = public_url + path
        return error_response(
            code,
            message,
            status=401,
            headers={"Location": location, "X-Pyqueue-Location": location},
            details={"location": location},
        )

    async def check(request: web.Request) -> web.StreamResponse:
        try:
            response = answer(request)
        except Exception as exc:
            response = response_for_exception(exc, request, failures)
        requests[(CHECK_LABEL, response.status)] += 1
        return response

    return check
