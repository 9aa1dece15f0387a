"""Admin routes (``Authorization: Bearer <admin_token>``): rooms, pause and resume, queue-all,
slot loads (JSON or CSV), releases of returned slots, stats, the audit log and the deletion of
a closed room's personal data.

Every change names its actor (``X-Pyqueue-Actor``, default "admin") in the room's audit log;
the actor and a release's reason are held to the core's rules (``check_audit``).
With a virtual clock (tests and replays only) ``/v1/admin/clock`` reads and moves it.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web

from pyqueue._core import InvalidArgument, RoomConfig, check_audit
from pyqueue.config import (
    INPUT_RULES,
    ConfigError,
    merged_room_config,
    room_config_from_mapping,
    room_config_to_mapping,
    slots_from_csv,
    slots_from_json,
)
from pyqueue.server import render
from pyqueue.server.errors import ApiError
from pyqueue.server.httpio import (
    ROOM_ID_RULE,
    is_room_id,
    json_response,
    optional_bool,
    optional_string,
    read_body,
    read_json_object,
    reject_unknown,
    require_bearer,
)
from pyqueue.server.state import STATE, ServerState
from pyqueue.server.ticker import TickFailed, tick_all

ACTOR_HEADER: Final = "X-Pyqueue-Actor"
#: No reason longer than the core's rule in bytes can pass it; the core judges the rest.
_REASON_MAX_CHARS: Final = INPUT_RULES["reason"].max_bytes or 0


def routes(virtual_clock: bool) -> list[web.RouteDef]:
    table = [
        web.get("/v1/admin/rooms", list_rooms),
        web.get("/v1/admin/rooms/{room}", get_room),
        web.put("/v1/admin/rooms/{room}", put_room),
        web.patch("/v1/admin/rooms/{room}", patch_room),
        web.post("/v1/admin/rooms/{room}/pause", pause),
        web.post("/v1/admin/rooms/{room}/resume", resume),
        web.post("/v1/admin/rooms/{room}/queue-all", queue_all),
        web.post("/v1/admin/rooms/{room}/slots", load_slots),
        web.post("/v1/admin/rooms/{room}/release", release),
        web.get("/v1/admin/rooms/{room}/stats", stats),
        web.get("/v1/admin/rooms/{room}/audit", audit),
        web.post("/v1/admin/rooms/{room}/forget", forget),
    ]
    if virtual_clock:
        table += [web.get("/v1/admin/clock", get_clock), web.post("/v1/admin/clock", move_clock)]
    return table


def authorize(request: web.Request) -> tuple[ServerState, str]:
    """The state and the actor of an admin request; raises unless the admin token is right."""
    state = request.app[STATE]
    require_bearer(
        request,
        state.server.admin_token,
        "admin",
        "the admin API is off: no admin_token is configured",
    )
    actor = request.headers.get(ACTOR_HEADER, "admin").strip() or "admin"
    try:
        check_audit(actor)
    except InvalidArgument as exc:
        raise ApiError("invalid_argument", f"{ACTOR_HEADER}: {exc}") from None
    return state, actor


async def _stats(state: ServerState, room: str) -> tuple[RoomConfig, dict[str, Any]]:
    """The room's config and its stats, as ``GET .../stats`` answers them."""
    config = await state.backend.room_config(room)
    info = await state.backend.room_info(room)
    draw = await state.backend.draw(room)
    return config, render.stats(config, info, draw)


async def list_rooms(request: web.Request) -> web.Response:
    state, _ = authorize(request)
    return json_response({"rooms": sorted(await state.backend.room_ids())})


async def get_room(request: web.Request) -> web.Response:
    state, _ = authorize(request)
    config, room_stats = await _stats(state, request.match_info["room"])
    return json_response({"config": room_config_to_mapping(config), "stats": room_stats})


async def put_room(request: web.Request) -> web.Response:
    """Creates the room, or replaces its settings (what may change while it runs)."""
    state, actor = authorize(request)
    room = request.match_info["room"]
    if not is_room_id(room):
        raise ConfigError(ROOM_ID_RULE)
    data = await read_json_object(request, state.server)
    if data.pop("id", room) != room:
        raise ConfigError("the id in the body differs from the one in the path")
    exists = room in await state.backend.room_ids()
    if exists and "seed" not in data:
        # The draw's seed is fixed once the room opened; a replacement keeps it unless given.
        data["seed"] = (await state.backend.room_config(room)).seed
    config = room_config_from_mapping(room, data)
    if exists:
        await state.backend.update_room(config, actor)
    else:
        await state.backend.create_room(config, actor)
    await state.refresh_room(room)
    current = await state.backend.room_config(room)
    return json_response(
        {"config": room_config_to_mapping(current), "created": not exists},
        status=200 if exists else 201,
    )


async def patch_room(request: web.Request) -> web.Response:
    """Changes some settings of a running room (e.g. ``{"admit_per_minute": 900}``)."""
    state, actor = authorize(request)
    room = request.match_info["room"]
    data = await read_json_object(request, state.server)
    if data.pop("id", room) != room:
        raise ConfigError("a room's id cannot change")
    current = await state.backend.room_config(room)
    config = merged_room_config(current, data)
    await state.backend.update_room(config, actor)
    await state.refresh_room(room)
    updated = await state.backend.room_config(room)
    return json_response({"config": room_config_to_mapping(updated), "created": False})


async def pause(request: web.Request) -> web.Response:
    state, actor = authorize(request)
    room = request.match_info["room"]
    await state.backend.pause(room, actor)
    return json_response({"room": room, "paused": True})


async def resume(request: web.Request) -> web.Response:
    state, actor = authorize(request)
    room = request.match_info["room"]
    await state.backend.resume(room, actor)
    return json_response({"room": room, "paused": False})


async def queue_all(request: web.Request) -> web.Response:
    state, actor = authorize(request)
    room = request.match_info["room"]
    data = await read_json_object(request, state.server)
    reject_unknown(data, {"on"})
    on = optional_bool(data, "on", True)
    await state.backend.queue_all(room, on, actor)
    return json_response({"room": room, "queue_all": on})


async def load_slots(request: web.Request) -> web.Response:
    """Slots as JSON ``{"slots": [{"id", "group", "starts_at"}]}`` or CSV with those columns."""
    state, actor = authorize(request)
    room = request.match_info["room"]
    await state.backend.room_config(room)  # 404 before reading a big body for nothing
    server = state.server
    body = await read_body(request, server.max_admin_body_bytes, server.body_timeout_seconds)
    try:
        if _is_csv(request.content_type, body):
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ApiError("invalid_argument", "the CSV must be UTF-8") from None
            slots = slots_from_csv(text, "slots")
        else:
            slots = slots_from_json(_slots_json(body), "slots")
    except ConfigError as exc:
        raise ApiError("invalid_argument", str(exc)) from None
    if not slots:
        raise ApiError("invalid_argument", "no slots given")
    added = await state.backend.add_slots(room, slots, actor)
    return json_response({"room": room, "added": added}, status=201)


#: What editors on Windows put before UTF-8 text; neither JSON nor CSV reading minds it.
_UTF8_BOM: Final = b"\xef\xbb\xbf"
#: Content types that say the body is CSV, or JSON.
_CSV_TYPES: Final = frozenset({"text/csv", "application/csv"})
_JSON_TYPES: Final = frozenset({"application/json"})
#: Content types that say nothing about it: none, curl's default for ``-d`` and
#: ``--data-binary`` (which the other admin routes take as JSON too), plain text and bytes. The
#: body's first character decides.
_UNSAID_TYPES: Final = frozenset(
    {"", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"}
)


def _is_csv(content_type: str, body: bytes) -> bool:
    """Whether a slot load is CSV: by its content type where it names CSV or JSON, else by its
    first character that is not white space (after a UTF-8 byte-order mark): ``{`` is JSON,
    anything else CSV. Another content type is refused (415)."""
    if content_type in _CSV_TYPES:
        return True
    if content_type in _JSON_TYPES:
        return False
    if content_type not in _UNSAID_TYPES:
        raise ApiError(
            "unsupported_media_type",
            "send text/csv or application/json, or no type (the body's first character decides)",
            status=415,
        )
    return not body.removeprefix(_UTF8_BOM).lstrip().startswith(b"{")


def _slots_json(body: bytes) -> Any:
    try:
        # A byte-order mark is allowed before JSON as before CSV (``_is_csv`` looks past it).
        data = orjson.loads(body.removeprefix(_UTF8_BOM))
    except orjson.JSONDecodeError as exc:
        raise ApiError("malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"slots"}:
        raise ApiError("invalid_argument", 'the body must be {"slots": [...]}')
    return data["slots"]


async def release(request: web.Request) -> web.Response:
    """Releases returned slots: at a due window, or early with ``override`` and a ``reason``."""
    state, actor = authorize(request)
    room = request.match_info["room"]
    data = await read_json_object(request, state.server)
    reject_unknown(data, {"override", "reason"})
    override = optional_bool(data, "override", False)
    reason = optional_string(data, "reason", _REASON_MAX_CHARS)
    check_audit(actor, (reason or "").strip() or None)
    released = await state.backend.release(room, override, reason, actor)
    return json_response({"room": room, "released": released, "override": override})


async def stats(request: web.Request) -> web.Response:
    state, _ = authorize(request)
    _, room_stats = await _stats(state, request.match_info["room"])
    return json_response(room_stats)


async def audit(request: web.Request) -> web.Response:
    state, _ = authorize(request)
    room = request.match_info["room"]
    entries = await state.backend.audit_log(room)
    return json_response({"room": room, "entries": [render.audit_entry(e) for e in entries]})


async def forget(request: web.Request) -> web.Response:
    """Deletes the room's personal data now (409 ``room_not_closed`` while it is open)."""
    state, actor = authorize(request)
    room = request.match_info["room"]
    forgotten = await state.backend.forget_personal_data(room, actor)
    return json_response({"room": room, "forgotten": forgotten})


# ----- test-only: the virtual clock --------------------------------------------------------


async def get_clock(request: web.Request) -> web.Response:
    state, _ = authorize(request)
    assert state.clock is not None
    return json_response({"now": state.clock.now(), "speed": state.clock_speed})


async def move_clock(request: web.Request) -> web.Response:
    """Advances (``advance_seconds``) or sets (``set``) the virtual clock, then ticks every
    room once, so a test sees the effect of the new time at once."""
    state, _ = authorize(request)
    assert state.clock is not None
    data = await read_json_object(request, state.server)
    reject_unknown(data, {"advance_seconds", "set"})
    if ("advance_seconds" in data) == ("set" in data):
        raise ApiError("invalid_argument", "send either advance_seconds or set")
    if "advance_seconds" in data:
        seconds = data["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError("invalid_argument", "advance_seconds must be a number >= 0")
        state.clock.advance(float(seconds))
    else:
        when = optional_string(data, "set", 64)
        if when is None:
            raise ApiError("invalid_argument", "set must be an RFC 3339 time")
        state.clock.set(when)
    try:
        admitted = await tick_all(state)
    except TickFailed as exc:
        # The clock has moved; the first room's error says why its tick did not.
        raise exc.failures[0][1] from exc
    return json_response({"now": state.clock.now(), "admitted": admitted})
