"""The booking pages: the slot picker, the hold, confirming, the booking code, and cancelling by
code.

The pass (the cookie the waiting room sets on admission) books; every step is a form answered
with a redirect, so a reload never books twice. The slot currently held is remembered in a
small cookie for display only (which slot, where, until when); the backend alone decides whether
the hold is still this visitor's when it is confirmed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypeGuard
from urllib.parse import quote, urlencode

from aiohttp import web

from pyqueue._core import (
    Booking,
    HoldExpired,
    LimitReached,
    NoHold,
    NotHolder,
    SlotTaken,
    TokenError,
    UnknownBooking,
    UnknownTicket,
)
from pyqueue.server.code_limit import by_code, cancel_by_code
from pyqueue.server.httpio import cookie, query_int
from pyqueue.server.page_http import (
    BOOKING_COOKIE_SECONDS,
    RoomPage,
    booking_cookie,
    decode_cookie,
    encode_cookie,
    hold_cookie,
    html_response,
    page_handler,
    read_form,
    redirect,
    room_page,
    set_cookie,
)
from pyqueue.web.booking_views import (
    SlotChoice,
    Taken,
    booking,
    cancel_confirm,
    cancel_done,
    cancel_form,
    cancelled_booking,
    hold,
    picker,
)
from pyqueue.web.html import PageContext
from pyqueue.web.views import Rendered

#: Free slots shown per page of a group.
PAGE_SIZE: Final = 24
MAX_CODE: Final = 64


def routes() -> list[web.RouteDef]:
    return [
        web.get("/rooms/{room}/book", show_picker),
        web.get("/rooms/{room}/book/{slot}", show_hold),
        web.post("/rooms/{room}/book/{slot}/hold", hold_slot),
        web.post("/rooms/{room}/book/{slot}/confirm", confirm_slot),
        web.post("/rooms/{room}/book/{slot}/release", release_slot),
        web.get("/rooms/{room}/bookings/{code}", show_booking),
        web.get("/rooms/{room}/cancel", show_cancel),
        web.post("/rooms/{room}/cancel", cancel_booking),
    ]


async def _pass(request: web.Request, page: RoomPage) -> tuple[str, float]:
    """The visitor's pass and its seconds left. Without the pass cookie, the ticket's status
    gives it (admitted while the page was not polling); raises a ``TokenError`` otherwise."""
    state, meta = page.state, page.meta
    token = cookie(request, meta.pass_cookie)
    if token is None:
        ticket = cookie(request, meta.ticket_cookie)
        if ticket is not None:
            try:
                st = await state.backend.status(meta.id, ticket)
            except UnknownTicket:
                st = None
            if st is not None and st.pass_token is not None:
                token = st.pass_token
        if token is None:
            raise TokenError("no pass: the visitor has not been admitted")
    info = await state.backend.verify_pass(meta.id, token)
    return token, info.expires_at.timestamp() - state.now()


def _with_pass_cookie(
    request: web.Request, page: RoomPage, response: web.Response, token: str, seconds: float
) -> web.Response:
    if cookie(request, page.meta.pass_cookie) != token:
        set_cookie(request, response, page.meta.pass_cookie, token, int(seconds))
    return response


@page_handler
async def show_picker(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    token, seconds = await _pass(request, page)
    held = _held(request, page)
    if held is not None and request.query.get("group") is None:
        # Back in the picker while holding a slot: the hold comes first.
        return redirect(f"{page.ctx.room_path}/book/{quote(held.slot, safe='')}")
    rendered = await _picker(request, page, seconds, selected=request.query.get("group") or None)
    return _with_pass_cookie(
        request, page, html_response(request, page.ctx, rendered), token, seconds
    )


async def _picker(
    request: web.Request,
    page: RoomPage,
    seconds: float,
    *,
    selected: str | None,
    taken: SlotTaken | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Rendered:
    backend, room = page.state.backend, page.meta.id
    groups = [(g.group, g.free) for g in await backend.availability(room)]
    offset = query_int(request, "offset", 0, 0, 10**9) if taken is None else 0
    slots: list[SlotChoice] = []
    next_offset = None
    if selected is not None:
        found = await backend.free_slots(room, selected, offset, PAGE_SIZE + 1)
        slots = [SlotChoice(s.id, s.group, s.starts_at) for s in found[:PAGE_SIZE]]
        next_offset = offset + PAGE_SIZE if len(found) > PAGE_SIZE else None
    lost = None
    if taken is not None:
        wanted = set(taken.alternatives)
        alternatives = [s for s in slots if s.id in wanted] or slots
        lost = Taken(taken.slot, alternatives)
    return picker(
        page.ctx,
        groups=groups,
        selected=selected,
        slots=slots,
        offset=offset,
        limit=PAGE_SIZE,
        next_offset=next_offset,
        pass_seconds=seconds,
        taken=lost,
        problem=problem,
        status=status,
    )


@dataclass(frozen=True)
class RememberedHold:
    """The hold remembered in the visitor's cookie, for display only."""

    slot: str
    group: str
    starts_at: datetime
    until: float


def _held(request: web.Request, page: RoomPage) -> RememberedHold | None:
    """The hold remembered in this browser, while it has not run out. The cookie is the
    client's to change: anything malformed in it counts as no hold."""
    data = decode_cookie(cookie(request, hold_cookie(page.meta.id)))
    if data is None:
        return None
    slot, group = data.get("slot"), data.get("group")
    starts_at, until = data.get("starts_at"), data.get("until")
    if not (isinstance(slot, str) and isinstance(group, str)):
        return None
    if not (_is_timestamp(starts_at) and _is_timestamp(until)):
        return None
    if until <= page.state.now():
        return None
    return RememberedHold(slot, group, datetime.fromtimestamp(starts_at, UTC), float(until))


#: Times in the hold cookie must lie between 1970 and the year 9000, so that every time zone
#: and every countdown can show them.
_LATEST_TIMESTAMP: Final = 221_845_392_000.0


def _is_timestamp(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= _LATEST_TIMESTAMP
    )


@page_handler
async def hold_slot(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    state, ctx = page.state, page.ctx
    form = await read_form(request)
    slot = request.match_info["slot"]
    group = form.get("group") or None
    token, seconds = await _pass(request, page)
    try:
        held = await state.backend.hold(page.meta.id, slot, token)
    except SlotTaken as exc:
        # Lost the race: the alternatives in the same centre and day, at once.
        rendered = await _picker(request, page, seconds, selected=group, taken=exc, status=409)
        return html_response(request, ctx, rendered)
    except LimitReached:
        current = _held(request, page)
        if current is not None:
            return redirect(f"{ctx.room_path}/book/{quote(current.slot, safe='')}")
        raise
    state.metrics.holds[page.meta.id] += 1
    response = redirect(f"{ctx.room_path}/book/{quote(slot, safe='')}")
    remembered = {
        "slot": held.slot,
        "group": held.group,
        "starts_at": held.starts_at.timestamp(),
        "until": held.until_timestamp,
    }
    set_cookie(
        request,
        response,
        hold_cookie(page.meta.id),
        encode_cookie(remembered),
        int(held.until_timestamp - state.now()) + 60,
    )
    return _with_pass_cookie(request, page, response, token, seconds)


@page_handler
async def show_hold(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    await _pass(request, page)
    held = _held(request, page)
    slot = request.match_info["slot"]
    if held is None or held.slot != slot:
        return redirect(f"{page.ctx.room_path}/book")
    choice = SlotChoice(slot, held.group, held.starts_at)
    rendered = hold(page.ctx, choice, held.until - page.state.now())
    return html_response(request, page.ctx, rendered)


@page_handler
async def confirm_slot(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    state, ctx = page.state, page.ctx
    await read_form(request)
    slot = request.match_info["slot"]
    token, seconds = await _pass(request, page)
    held = _held(request, page)
    group = held.group if held is not None else None
    try:
        booked = await state.backend.confirm(page.meta.id, slot, token)
    except (HoldExpired, NoHold, NotHolder):
        rendered = await _picker(
            request, page, seconds, selected=group, problem=ctx.texts("hold_expired"), status=409
        )
        response = html_response(request, ctx, rendered)
        response.del_cookie(hold_cookie(page.meta.id), path="/")
        return response
    state.metrics.bookings[page.meta.id] += 1
    return booked_redirect(request, page, booked.code)


def booked_redirect(request: web.Request, page: RoomPage, code: str) -> web.Response:
    """To the booking code's page; the code is kept in the browser for the "done" view."""
    response = redirect(f"{page.ctx.room_path}/bookings/{quote(code, safe='')}")
    set_cookie(request, response, booking_cookie(page.meta.id), code, BOOKING_COOKIE_SECONDS)
    response.del_cookie(hold_cookie(page.meta.id), path="/")
    return response


@page_handler
async def release_slot(request: web.Request) -> web.StreamResponse:
    """Gives the held slot back and returns to the same centre and day."""
    page = await room_page(request)
    form = await read_form(request)
    token, _ = await _pass(request, page)
    # Already free again: the picker shows the current state either way.
    with contextlib.suppress(HoldExpired, NoHold, NotHolder):
        await page.state.backend.release_hold(page.meta.id, request.match_info["slot"], token)
    group = form.get("group")
    query = f"?{urlencode({'group': group})}#pq-slots" if group else ""
    response = redirect(f"{page.ctx.room_path}/book{query}")
    response.del_cookie(hold_cookie(page.meta.id), path="/")
    return response


@page_handler
async def show_booking(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    code = request.match_info["code"][:MAX_CODE]
    state, room = page.state, page.meta.id
    try:
        found = await by_code(request, state, room, lambda: state.backend.booking(room, code))
    except UnknownBooking:
        rendered = cancel_form(page.ctx, "", page.ctx.texts("cancel_unknown"))
        return html_response(request, page.ctx, rendered)
    return html_response(request, page.ctx, _by_code(page.ctx, found, booking))


@page_handler
async def show_cancel(request: web.Request) -> web.StreamResponse:
    """The cancel page: a code field; with a code, the booking and a button to cancel it."""
    page = await room_page(request)
    ctx = page.ctx
    if request.query.get("cancelled"):
        return html_response(request, ctx, cancel_done(ctx, page.config.returned_slots))
    code = request.query.get("code", "").strip().upper()[:MAX_CODE]
    if not code:
        return html_response(request, ctx, cancel_form(ctx))
    state, room = page.state, page.meta.id
    try:
        found = await by_code(request, state, room, lambda: state.backend.booking(room, code))
    except UnknownBooking:
        return html_response(request, ctx, cancel_form(ctx, code, ctx.texts("cancel_unknown")))
    return html_response(request, ctx, _by_code(ctx, found, cancel_confirm))


def _by_code(
    ctx: PageContext,
    found: Booking,
    booked: Callable[[PageContext, str, str, datetime], Rendered],
) -> Rendered:
    """A booking found by its code: when it was cancelled, that (on the booking's page and the
    cancel page alike); else the page ``booked`` makes of it."""
    if found.cancelled_at is not None:
        return cancelled_booking(ctx, found.code, found.group, found.starts_at, found.cancelled_at)
    return booked(ctx, found.code, found.group, found.starts_at)


@page_handler
async def cancel_booking(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    ctx = page.ctx
    form = await read_form(request)
    code = form.get("code", "").strip().upper()[:MAX_CODE]
    state, room = page.state, page.meta.id
    try:
        await cancel_by_code(request, state, room, code)
    except UnknownBooking:
        return html_response(request, ctx, cancel_form(ctx, code, ctx.texts("cancel_unknown")))
    response = redirect(f"{ctx.room_path}/cancel?cancelled=1")
    if cookie(request, booking_cookie(page.meta.id)) == code:
        response.del_cookie(booking_cookie(page.meta.id), path="/")
    return response
