"""The waiting-room page: ``GET /rooms/{room}`` joins (or resumes with the cookie) and shows the
visitor's state; forms join with a code, join again, and answer waiting-list offers. Also the
static files and each room's theme stylesheet.

The page is rendered on the server first, so it works without JavaScript (it then reloads
itself at the interval the server asks for); with JavaScript, ``static/page.js`` takes over
the polling of ``/v1/rooms/{room}/status`` and only reloads when the view must change.

A GET that joins must be safe to repeat: with the ticket cookie it only reads the status, and
link previews, prefetches and HEAD requests see a description of the room and join nobody.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from pyqueue._core import (
    EntryError,
    HoldExpired,
    IdentityRequired,
    NoOffer,
    NotOpenYet,
    RoomClosed,
    Status,
    TokenError,
    UnknownTicket,
)
from pyqueue.config import Settings
from pyqueue.server import page_booking, render
from pyqueue.server.challenge import fresh_challenge, pay_for_join
from pyqueue.server.entry import check_entry
from pyqueue.server.errors import ApiError
from pyqueue.server.httpio import MAX_ENTRY_TOKEN_CHARS, cookie
from pyqueue.server.page_http import (
    PAGES,
    PageSite,
    RoomPage,
    booking_cookie,
    context,
    html_response,
    page_handler,
    read_form,
    redirect,
    room_page,
    set_cookie,
    take_join_slot,
    zone_of,
)
from pyqueue.server.state import STATE
from pyqueue.server.visitor import IDENTITY_MAX, TICKET_COOKIE_SECONDS
from pyqueue.web.appearance import look_from_mapping
from pyqueue.web.assets import STATIC_PREFIX
from pyqueue.web.html import path_part
from pyqueue.web.views import (
    Rendered,
    RoomFacts,
    challenge_view,
    entry_form,
    identity_form,
    landing,
    not_open_yet,
    room_list,
    waiting_room,
)

log = logging.getLogger("pyqueue.page")

_IMMUTABLE: Final = "public, max-age=31536000, immutable"
_SHORT: Final = "public, max-age=300"
# Link previews of chat apps and search engines: they must not take a place in the queue.
_BOT_MARKERS: Final = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "facebookexternalhit",
    "embedly",
    "whatsapp",
    "telegram",
    "discord",
    "skype",
)


def routes(app: web.Application, settings: Settings) -> list[web.RouteDef]:
    """The page routes. Also stores the page state (the room looks from ``[rooms.page]``,
    the static files) in ``app``, which the handlers read; raises ``ConfigError`` for a bad
    look, before anything is served."""
    site = PageSite()
    for room in settings.rooms:
        if room.page:
            site.looks[room.config.id] = look_from_mapping(
                room.page, f"room {room.config.id!r}.page"
            )
    app[PAGES] = site
    return [
        web.get("/", front_page),
        web.get("/rooms/{room}", show_room),
        web.post("/rooms/{room}", join_with_form),
        web.post("/rooms/{room}/rejoin", rejoin),
        web.post("/rooms/{room}/offer/accept", accept_offer),
        web.post("/rooms/{room}/offer/decline", decline_offer),
        web.get("/rooms/{room}/theme.css", theme),
        web.get(STATIC_PREFIX + "{name}", static_file),
        *page_booking.routes(),
    ]


@page_handler
async def front_page(request: web.Request) -> web.StreamResponse:
    """``/``: where a person who typed only the server's address wants to go. With one room,
    its page; with several, a list of them (sending everybody to the first would hide the
    others); with none, 404."""
    rooms = sorted(await request.app[STATE].backend.room_ids())
    if not rooms:
        raise web.HTTPNotFound()
    if len(rooms) == 1:
        # 302, not 301: rooms come and go through the admin API, browsers must not remember it.
        return web.Response(
            status=302,
            headers={"Location": f"/rooms/{path_part(rooms[0])}", "Cache-Control": "no-store"},
        )
    ctx = context(request, "", zone_of("UTC"), known_room=False)
    return html_response(request, ctx, room_list(ctx, rooms))


def _joins_nobody(request: web.Request) -> bool:
    """Prefetches, prerenders, HEAD requests and link-preview bots."""
    if request.method != "GET":
        return True
    headers = request.headers
    purpose = (
        headers.get("Sec-Purpose", "") + headers.get("Purpose", "") + headers.get("X-Purpose", "")
    ).lower()
    if "prefetch" in purpose or "preview" in purpose or headers.get("X-Moz") == "prefetch":
        return True
    agent = headers.get("User-Agent", "").lower()
    return not agent or any(marker in agent for marker in _BOT_MARKERS)


@page_handler
async def show_room(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    state, meta, ctx = page.state, page.meta, page.ctx
    room = meta.id
    token = cookie(request, meta.ticket_cookie)
    st: Status | None = None
    if token is not None:
        try:
            st = await state.backend.status(room, token)
        except (TokenError, UnknownTicket):
            # A stale cookie (new keys after a restart, another deployment): a new place.
            token = None
    if st is None:
        if _joins_nobody(request):
            return html_response(request, ctx, landing(ctx))
        if page.config.identity == "entry":
            # Joins come from the portal: its link's #entry= fragment (page.js posts it) or
            # its form post. The challenge, if any, follows once the entry token is checked.
            return html_response(request, ctx, entry_form(ctx))
        if page.config.identity == "required" or meta.challenge_max_number:
            return html_response(request, ctx, _join_form(page))
        facts = await _facts(page)
        try:
            take_join_slot(request, state)
            ticket = await state.backend.join(room, None, None)
        except NotOpenYet as exc:
            rendered = not_open_yet(ctx, facts, exc.opens_at, state.now())
            return html_response(request, ctx, rendered)
        except RoomClosed:
            closed = {"state": "closed", "paused": False, "offer": None}
            return html_response(request, ctx, waiting_room(ctx, facts, closed))
        st = await state.backend.status(room, ticket.token)
        state.metrics.count_join(room, ticket.new)
        return await _status_page(request, page, ticket.token, st)
    assert token is not None  # a status was read with it
    return await _status_page(request, page, token, st)


def _join_form(
    page: RoomPage,
    error: str | None = None,
    challenge: Mapping[str, Any] | None = None,
    *,
    entry: str | None = None,
) -> Rendered:
    """The form a visitor joins with: the portal's code, a proof-of-work challenge, or both;
    in an entry room, the challenge with the checked ``entry`` token carried along."""
    meta, ctx = page.meta, page.ctx
    identity = page.config.identity == "required"
    if not meta.challenge_max_number:
        return identity_form(ctx, error)
    if challenge is None:
        challenge = fresh_challenge(page.state, meta)
    return challenge_view(ctx, challenge, identity=identity, error=error, entry=entry)


async def _status_page(
    request: web.Request, page: RoomPage, token: str, st: Status
) -> web.Response:
    state, meta, ctx = page.state, page.meta, page.ctx
    body, _ = render.status(meta.id, st, meta.poll_cap_ms, state.now, meta.handoff_url)
    facts = await _facts(page)
    code = cookie(request, booking_cookie(meta.id))
    response = html_response(request, ctx, waiting_room(ctx, facts, body, code))
    set_cookie(request, response, meta.ticket_cookie, token, TICKET_COOKIE_SECONDS)
    if st.pass_token is not None:
        # Like the status API: the pass goes along as a cookie for the slot picker and for a
        # reverse proxy in front of the booking site.
        set_cookie(
            request, response, meta.pass_cookie, st.pass_token, int(st.pass_expires_in_seconds)
        )
    return response


async def _facts(page: RoomPage) -> RoomFacts:
    info = await page.state.backend.room_info(page.meta.id)
    config = page.config
    return RoomFacts(
        state=info.state,
        opens_at=config.opens_at,
        prequeue=config.prequeue,
        identity=config.identity,
        returned_slots=config.returned_slots,
        next_release_window=info.next_release_window,
    )


@page_handler
async def join_with_form(request: web.Request) -> web.StreamResponse:
    """The join form: with the portal's code (rooms that require one), or from the landing."""
    page = await room_page(request)
    state, meta, ctx = page.state, page.meta, page.ctx
    if page.config.identity == "entry":
        return await _join_with_entry(request, page)
    form = await read_form(request)
    # The code a visitor types proves nothing (anyone may type anyone's): it is the new
    # ticket's label, never a way to an existing place. Only the ticket cookie resumes one.
    label = (form.get("identity") or "").strip() or None
    if label is not None and len(label) > IDENTITY_MAX:
        return html_response(request, ctx, _join_form(page, ctx.texts("identity_too_long")))
    if label is None and page.config.identity == "required":
        return html_response(request, ctx, _join_form(page, ctx.texts("identity_missing")))
    resume = cookie(request, meta.ticket_cookie)
    take_join_slot(request, state)
    try:
        await pay_for_join(state, meta, form.get("challenge") or None, resume)
    except ApiError as exc:
        if not exc.code.startswith("challenge_") or exc.details is None:
            raise
        refused = ctx.texts("challenge_refused")
        return html_response(request, ctx, _join_form(page, refused, exc.details["challenge"]))
    try:
        ticket = await state.backend.join(meta.id, None, resume, label=label)
    except (TokenError, UnknownTicket):
        ticket = await state.backend.join(meta.id, None, None, label=label)
    except IdentityRequired:
        return html_response(request, ctx, _join_form(page, ctx.texts("identity_missing")))
    state.metrics.count_join(meta.id, ticket.new)
    response = redirect(ctx.room_path)
    set_cookie(request, response, meta.ticket_cookie, ticket.token, TICKET_COOKIE_SECONDS)
    return response


async def _join_with_entry(request: web.Request, page: RoomPage) -> web.StreamResponse:
    """An entry room's join: the portal's entry token from the form, never a typed identity."""
    state, meta, ctx = page.state, page.meta, page.ctx
    form = await read_form(request, any_origin=True)
    entry = (form.get("entry") or "").strip()
    if not entry or len(entry) > MAX_ENTRY_TOKEN_CHARS:
        return html_response(request, ctx, entry_form(ctx, ctx.texts("entry_missing")))
    take_join_slot(request, state)
    resume = cookie(request, meta.ticket_cookie)
    try:
        # The token first (cheap, and it names the person), then the work, if the room asks
        # for it: the challenge page sends the same token back with the solution, so its jti
        # must still be unused here; the join below uses it up.
        check_entry(state, meta, entry)
        await pay_for_join(state, meta, form.get("challenge") or None, resume)
        try:
            ticket = await state.backend.join(meta.id, None, resume, entry)
        except (TokenError, UnknownTicket):
            ticket = await state.backend.join(meta.id, None, None, entry)
    except EntryError:
        return html_response(request, ctx, entry_form(ctx, ctx.texts("entry_refused")))
    except ApiError as exc:
        if not exc.code.startswith("challenge_") or exc.details is None:
            raise
        # The first visit brings no solution: that is the challenge to solve, not an error.
        refused = None if exc.code == "challenge_required" else ctx.texts("challenge_refused")
        rendered = _join_form(page, refused, exc.details["challenge"], entry=entry)
        return html_response(request, ctx, rendered)
    state.metrics.count_join(meta.id, ticket.new)
    response = redirect(ctx.room_path)
    set_cookie(request, response, meta.ticket_cookie, ticket.token, TICKET_COOKIE_SECONDS)
    return response


@page_handler
async def rejoin(request: web.Request) -> web.StreamResponse:
    """A new place after the old one expired, lapsed or was left."""
    page = await room_page(request)
    state, meta, ctx = page.state, page.meta, page.ctx
    await read_form(request)
    response = redirect(ctx.room_path)
    if page.config.identity == "entry":
        # The vouched person's own ticket goes back in line (no new place, so no new work);
        # without it, the entry form.
        resume = cookie(request, meta.ticket_cookie)
        if resume is None:
            return response
        take_join_slot(request, state)
        ticket = await state.backend.join(meta.id, None, resume)
    elif page.config.identity == "required" or meta.challenge_max_number:
        # A new place needs a label again, or costs new work: the visitor gives the label
        # again, or solves a new challenge, on the join form.
        response.del_cookie(meta.ticket_cookie, path="/")
        return response
    else:
        take_join_slot(request, state)
        ticket = await state.backend.join(meta.id, None, None)
    state.metrics.count_join(meta.id, ticket.new)
    set_cookie(request, response, meta.ticket_cookie, ticket.token, TICKET_COOKIE_SECONDS)
    return response


@page_handler
async def accept_offer(request: web.Request) -> web.StreamResponse:
    """Books the slot a waiting-list offer holds for this visitor."""
    page = await room_page(request)
    state, meta, ctx = page.state, page.meta, page.ctx
    form = await read_form(request)
    token = cookie(request, meta.ticket_cookie)
    slot = form.get("slot", "")
    if token is None or not slot:
        return redirect(ctx.room_path)
    try:
        booked = await state.backend.confirm(meta.id, slot, token)
    except (NoOffer, HoldExpired):
        # The offer ran out or moved on meanwhile: the waiting room shows the current state.
        return redirect(ctx.room_path)
    state.metrics.bookings[meta.id] += 1
    return page_booking.booked_redirect(request, page, booked.code)


@page_handler
async def decline_offer(request: web.Request) -> web.StreamResponse:
    page = await room_page(request)
    await read_form(request)
    token = cookie(request, page.meta.ticket_cookie)
    if token is not None:
        # Already gone (expired or moved on): the waiting room shows what is current.
        with contextlib.suppress(NoOffer):
            await page.state.backend.decline_offer(page.meta.id, token)
    return redirect(page.ctx.room_path)


async def theme(request: web.Request) -> web.StreamResponse:
    """The room's colours; a room that does not exist is a 404 (``UnknownRoom``)."""
    room = (await request.app[STATE].room(request.match_info["room"])).id
    body, version = request.app[PAGES].theme(room)
    cache = _IMMUTABLE if request.query.get("v") == version else _SHORT
    return web.Response(
        body=body,
        headers={"Content-Type": "text/css; charset=utf-8", "Cache-Control": cache},
    )


async def static_file(request: web.Request) -> web.StreamResponse:
    asset = request.app[PAGES].assets.files.get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    cache = _IMMUTABLE if request.query.get("v") == asset.version else _SHORT
    return web.Response(
        body=asset.body,
        headers={
            "Content-Type": asset.content_type,
            "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff",
        },
    )


__all__ = ["routes"]
