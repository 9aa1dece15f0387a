"""What the page routes share: the page state in the app, the request's language and context,
HTML answers with their security headers, cookies, form input, and errors shown as pages.

The JSON API answers errors in JSON (the middleware in :mod:`pyqueue.server.app`); a browser
on the page must get a page instead, so page handlers are wrapped by :func:`page_handler`,
which turns every error a visitor can meet into a readable message in their language.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from aiohttp import web

from pyqueue._core import (
    LimitReached,
    NotAdmitted,
    NotOpenYet,
    PyqueueError,
    RoomClosed,
    RoomConfig,
    TokenError,
    TokenExpired,
)
from pyqueue.backends import BackendUnavailable, UnknownRoom
from pyqueue.server.errors import ApiError, known_code
from pyqueue.server.httpio import cookie, read_body, set_visitor_cookie

# The join rate limit of the API applies to joins from the page as well.
from pyqueue.server.httpio import take_join_slot as take_join_slot
from pyqueue.server.state import STATE, RoomMeta, ServerState
from pyqueue.web.appearance import PageLook, theme_css
from pyqueue.web.assets import Assets, version_of
from pyqueue.web.html import PageContext, document
from pyqueue.web.i18n import LANGUAGES, negotiate, texts
from pyqueue.web.promises import limit_key
from pyqueue.web.views import Rendered, message

log = logging.getLogger("pyqueue.page")

LANG_COOKIE: Final = "pyqueue_lang"
LANG_COOKIE_SECONDS: Final = 365 * 24 * 3600
#: The booking code stays in the visitor's browser so the "done" page can show it again.
BOOKING_COOKIE_SECONDS: Final = 30 * 24 * 3600
#: Room for the longest entry token (``MAX_ENTRY_TOKEN_CHARS``) and a proof-of-work solution
#: (``challenge.MAX_PAYLOAD_CHARS``), url-encoded, beside the page's few short fields.
MAX_FORM_BYTES: Final = 8192
#: More than any page form has; a limit so that parsing stays cheap.
MAX_FORM_FIELDS: Final = 16
FORM_TYPE: Final = "application/x-www-form-urlencoded"
_SECURITY_HEADERS: Final = {
    # No inline script or style anywhere, so neither is allowed; images may come from the
    # portal's own https host (its logo).
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Booking codes and passes appear in URLs; they must not leak to other sites.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Vary": "Accept-Language, Cookie",
}


@dataclass
class PageSite:
    """The page's shared state: room looks, static files and prepared theme stylesheets.

    Stylesheets are prepared once per configured look (rooms without one share the default),
    so what a client puts in a URL never adds an entry: memory stays bounded by the config.
    """

    looks: dict[str, PageLook] = field(default_factory=dict)
    assets: Assets = field(default_factory=Assets.load)
    _themes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    _default_theme: tuple[bytes, str] | None = None

    def look(self, room: str) -> PageLook:
        return self.looks.get(room) or PageLook()

    def theme(self, room: str) -> tuple[bytes, str]:
        """The room's theme stylesheet and its version."""
        look = self.looks.get(room)
        if look is None:
            if self._default_theme is None:
                self._default_theme = _prepared_theme(PageLook())
            return self._default_theme
        cached = self._themes.get(room)
        if cached is None:
            cached = _prepared_theme(look)
            self._themes[room] = cached
        return cached

    @property
    def prepared_themes(self) -> int:
        """How many stylesheets are held in memory (the default counts once)."""
        return len(self._themes) + (self._default_theme is not None)


def _prepared_theme(look: PageLook) -> tuple[bytes, str]:
    body = theme_css(look).encode()
    return body, version_of(body)


PAGES: Final = web.AppKey("pyqueue_pages", PageSite)


def booking_cookie(room: str) -> str:
    return f"pyqueue_booking_{room}"


def hold_cookie(room: str) -> str:
    return f"pyqueue_hold_{room}"


@dataclass(frozen=True)
class RoomPage:
    """One page request's room: server state, prepared settings, config and view context."""

    state: ServerState
    meta: RoomMeta
    config: RoomConfig
    ctx: PageContext


@cache
def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def context(
    request: web.Request, room: str, zone: ZoneInfo, *, known_room: bool = True
) -> PageContext:
    """The view context; for a room that does not exist (``known_room=False``) the page has
    no room stylesheet, whose URL would only answer 404."""
    site = request.app[PAGES]
    chosen = request.query.get("lang") or cookie(request, LANG_COOKIE)
    lang = negotiate(request.headers.get("Accept-Language"), chosen)
    query = {k: v for k, v in request.query.items() if k != "lang"}
    links = {other: request.path + "?" + urlencode({**query, "lang": other}) for other in LANGUAGES}
    assets = {
        "page.css": site.assets.url("page.css"),
        "page.js": site.assets.url("page.js"),
        "challenge.js": site.assets.url("challenge.js"),
        "challenge-worker.js": site.assets.url("challenge-worker.js"),
    }
    if known_room:
        _, theme_version = site.theme(room)
        assets["theme.css"] = f"/rooms/{room}/theme.css?v={theme_version}"
    return PageContext(
        room=room,
        texts=texts(lang),
        look=site.look(room),
        zone=zone,
        language_links=links,
        assets=assets,
    )


async def room_page(request: web.Request) -> RoomPage:
    """The room of the request; raises ``UnknownRoom``."""
    state = request.app[STATE]
    room = request.match_info["room"]
    meta = await state.room(room)
    config = await state.backend.room_config(room)
    return RoomPage(state, meta, config, context(request, room, zone_of(config.timezone)))


def html_response(request: web.Request, ctx: PageContext, rendered: Rendered) -> web.Response:
    body = document(
        ctx,
        heading=rendered.heading,
        main=rendered.main,
        view=rendered.view,
        refresh=rendered.refresh,
        script_data=rendered.script_data,
    )
    response = web.Response(
        text=body,
        status=rendered.status,
        content_type="text/html",
        charset="utf-8",
        headers={**_SECURITY_HEADERS, "Content-Language": ctx.texts.lang},
    )
    chosen = request.query.get("lang")
    if chosen in LANGUAGES:
        # The visitor picked a language by hand: it sticks for the next pages.
        set_cookie(request, response, LANG_COOKIE, chosen, LANG_COOKIE_SECONDS)
    return response


def redirect(location: str) -> web.Response:
    """303 See Other: after a form, the browser GETs the result (reloading repeats nothing)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    """A visitor cookie by the app's settings, as the API sets its own."""
    set_visitor_cookie(request, response, request.app[STATE].server, name, value, max_age)


def encode_cookie(data: Mapping[str, Any]) -> str:
    """A small JSON object as a cookie value that needs no quoting."""
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_cookie(value: str | None) -> dict[str, Any] | None:
    if not value or len(value) > 2048:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


async def read_form(request: web.Request, *, any_origin: bool = False) -> Mapping[str, str]:
    """A small urlencoded form from this site; refuses other origins, large bodies, other
    media types and text that is not UTF-8, each with a 4xx. ``any_origin`` takes it from
    anywhere: for the entry form, which the portal's own page posts (the entry token in it is
    the credential, as a sign-in link is).

    Every page form is read here, and only here: the body is taken within the server's body
    limits (decompressed, if it came compressed) and parsed strictly, so no form can reach a
    handler half-decoded.
    """
    if not any_origin:
        check_origin(request)
    server = request.app[STATE].server
    body = await read_body(request, MAX_FORM_BYTES, server.body_timeout_seconds)
    if not body:
        return {}
    if request.content_type != FORM_TYPE:
        raise ApiError("unsupported_media_type", f"a form is sent as {FORM_TYPE}")
    try:
        fields = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise ApiError("bad_request", "the form is not UTF-8 text") from None
    except ValueError:
        raise ApiError("bad_request", f"a form has at most {MAX_FORM_FIELDS} fields") from None
    form: dict[str, str] = {}
    for name, value in fields:
        # The first value of a field counts, as in aiohttp's MultiDict.get.
        form.setdefault(name, value)
    return form


def check_origin(request: web.Request) -> None:
    """Forms are only accepted from this site. The cookies are SameSite=Lax already; this
    also covers the cancel form, which needs no cookie."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return
    host = urlsplit(origin).netloc
    public = urlsplit(request.app[STATE].server.public_url).netloc
    if host != request.host and (not public or host != public):
        raise ApiError("forbidden", "this form comes from another site")


# -------------------------------------------------------------------------------- errors

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page_handler(handler: Handler) -> Handler:
    """Answers the errors of a page handler as a page in the visitor's language."""

    @functools.wraps(handler)
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except UnknownRoom:
            room = request.match_info.get("room", "")
            ctx = context(request, room, ZoneInfo("UTC"), known_room=False)
            rendered = message(
                ctx, "unknown_room_title", ctx.texts("unknown_room_text"), status=404, back=False
            )
            return html_response(request, ctx, rendered)
        except (PyqueueError, ApiError) as exc:
            room = request.match_info.get("room", "")
            identity = "optional"  # a room that cannot be read vouches for nobody
            try:
                page = await room_page(request)
                ctx, identity = page.ctx, page.config.identity
            except PyqueueError:
                known = room in request.app[STATE].rooms
                ctx = context(request, room, ZoneInfo("UTC"), known_room=known)
            response = html_response(request, ctx, error_view(ctx, exc, identity))
            if isinstance(exc, ApiError) and exc.headers:
                response.headers.update(exc.headers)
            return response

    return handle


def error_view(ctx: PageContext, exc: Exception, identity: str = "optional") -> Rendered:
    """The page for an error a visitor can meet, with what to do next; ``identity`` is the
    room's identity mode (whom a booking limit counts)."""
    t = ctx.texts
    if isinstance(exc, TokenExpired):
        return message(ctx, "expired_title", t("pass_expired_text"), status=410)
    if isinstance(exc, TokenError | NotAdmitted):
        return message(ctx, "no_pass_title", t("no_pass_text"), status=403)
    if isinstance(exc, LimitReached):
        return message(ctx, "limit_title", t(limit_key(identity), limit=exc.limit), status=409)
    if isinstance(exc, RoomClosed):
        return message(ctx, "closed_title", t("closed_text"), status=410)
    if isinstance(exc, NotOpenYet):
        return message(ctx, "not_open_title", t("not_open_short"), status=425)
    if isinstance(exc, BackendUnavailable):
        return message(ctx, "error_title", t("busy_text"), status=503, retry_seconds=10)
    code = getattr(exc, "code", "")
    if code == "rate_limited":
        return message(ctx, "busy_title", t("rate_limited_text"), status=429, retry_seconds=30)
    if code == "token_missing":
        return message(ctx, "no_pass_title", t("no_pass_text"), status=401)
    if code == "forbidden":
        return message(ctx, "error_title", t("foreign_form_text"), status=403)
    status = exc.status if isinstance(exc, ApiError) else known_code(code)[1]
    log.info("page request refused", extra={"code": code or type(exc).__name__})
    return message(ctx, "error_title", t("error_text"), status=status)
