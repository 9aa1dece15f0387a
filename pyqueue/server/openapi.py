"""The OpenAPI 3.1 document of the HTTP API, built as data and served at ``/openapi.json``.

It is the reference for clients and the contract the tests hold the server to: every route the
application serves is described here (a test compares both ways), and the fuzz tests check
every answer against these schemas.
"""

from __future__ import annotations

from typing import Any, Final

from pyqueue import __version__
from pyqueue._core import ETA_REASONS, InputRule
from pyqueue.config import INPUT_RULES, ROOM_ENUMS, ROOM_FIELDS
from pyqueue.server.errors import STATUS_BY_CODE
from pyqueue.server.httpio import MAX_ENTRY_TOKEN_CHARS, MAX_TOKEN_CHARS

Schema = dict[str, Any]

TICKET_STATES: Final = [
    "prequeue",
    "waiting",
    "admitted",
    "completed",
    "expired",
    "abandoned",
    "left",
    "closed",
]
ROOM_STATES: Final = ["prequeue", "open", "paused", "closed", "sold_out"]
SLOT_STATES: Final = ["free", "held", "offered", "booked", "returned"]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def _object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


STRING: Final[Schema] = {"type": "string"}
INTEGER: Final[Schema] = {"type": "integer"}
NUMBER: Final[Schema] = {"type": "number"}
BOOLEAN: Final[Schema] = {"type": "boolean"}
TIME: Final[Schema] = {"type": "string", "format": "date-time"}


def _limited(schema: Schema, rule: InputRule) -> Schema:
    """``schema`` with the core's documented range or character set of a setting or id."""
    limited = dict(schema)
    if rule.kind in ("integer", "number"):
        key = "exclusiveMinimum" if rule.exclusive_minimum else "minimum"
        limited[key] = rule.minimum
        limited["maximum"] = rule.maximum
    elif rule.kind == "list":
        limited["maxItems"] = rule.maximum
    elif rule.kind == "text":
        # JSON Schema counts characters; the rule counts bytes of UTF-8, which is the stricter.
        limited.update(minLength=1, maxLength=rule.max_bytes, pattern=rule.pattern)
    limited["description"] = rule.text
    return limited


def _id(name: str) -> Schema:
    return _limited(STRING, INPUT_RULES[name])


ROOM_ID: Final[Schema] = _id("room_id")

_ROOM_FIELD_SCHEMAS: Final[dict[str, Schema]] = {
    "time": TIME,
    "number": NUMBER,
    "integer": INTEGER,
    "string": STRING,
    "strings": {"type": "array", "items": STRING},
}


def _room_field(name: str, kind: str) -> Schema:
    nullable = kind.endswith("?")
    kind = kind.rstrip("?")
    if kind in ROOM_ENUMS:
        schema: Schema = {"type": "string", "enum": list(ROOM_ENUMS[kind])}
    else:
        schema = dict(_ROOM_FIELD_SCHEMAS[kind])
    if name in INPUT_RULES:
        schema = _limited(schema, INPUT_RULES[name])
    return _nullable(schema) if nullable else schema


def _codes_by_status() -> str:
    """Each code's one HTTP status, in words: ``400: bad_request, …; 401: …``."""
    by_status: dict[int, list[str]] = {}
    for code, status in sorted(STATUS_BY_CODE.items()):
        by_status.setdefault(status, []).append(code)
    lines = (f"{status}: {', '.join(codes)}" for status, codes in sorted(by_status.items()))
    return "Every code has exactly one HTTP status. " + "; ".join(lines) + "."


def _schemas() -> dict[str, Schema]:
    room_settings = {name: _room_field(name, kind) for name, kind in ROOM_FIELDS.items()}
    return {
        "Error": _object(
            {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {
                            "type": "string",
                            "enum": sorted(STATUS_BY_CODE),
                            "description": _codes_by_status(),
                        },
                        "message": STRING,
                        "challenge": _ref("Challenge"),
                        "problems": {"type": "array", "items": STRING},
                    },
                    "required": ["code", "message"],
                    "description": "Some codes add details: slot_taken has slot and "
                    "alternatives, limit_reached has limit, not_open_yet has "
                    "opens_in_seconds, release_refused has next_window, invalid_config has "
                    "problems (every mistake of the settings given, one line each naming its "
                    "setting), and every challenge_* code has challenge (a fresh Challenge to "
                    "solve).",
                }
            }
        ),
        "Eta": {
            **_object(
                {
                    "low": NUMBER,
                    "seconds": NUMBER,
                    "high": NUMBER,
                    "known": BOOLEAN,
                    "reason": {
                        "type": "string",
                        "enum": list(ETA_REASONS),
                        "description": "What the estimate rests on: `rate` (the configured "
                        "admission rate limits the line), `capacity` (the booking site is full: "
                        "the line moves as sessions end), `expiry` (full, and no session was "
                        "reported complete: places free up only when passes expire), `paused` "
                        "(an operator paused admissions) or `measuring` (too little measured: "
                        "the range spans what the settings allow, from the rate to every place "
                        "held for a full session).",
                    },
                    "admit_per_minute": {
                        "type": "integer",
                        "description": "Admissions a minute the estimate assumes.",
                    },
                }
            ),
            "description": "The wait in seconds as a range; `known` once measured.",
        },
        "Offer": _object({"slot": STRING, "until": TIME, "expires_in_seconds": INTEGER}),
        "Status": _object(
            {
                "room": STRING,
                "ticket_id": INTEGER,
                "state": {"type": "string", "enum": TICKET_STATES},
                "ahead": _nullable(INTEGER),
                "ahead_at_start": _nullable(INTEGER),
                "eta": _ref("Eta"),
                "opens_in_seconds": INTEGER,
                "pass": _nullable(STRING),
                "pass_expires_in_seconds": _nullable(INTEGER),
                "offer": _nullable(_ref("Offer")),
                "paused": BOOLEAN,
                "poll_after_ms": INTEGER,
                "handoff_url": _nullable(STRING),
            }
        ),
        "Joined": {
            "allOf": [
                _ref("Status"),
                _object({"ticket": STRING}),
            ]
        },
        "JoinRequest": {
            "type": "object",
            "properties": {
                "identity": {
                    **_id("identity"),
                    "description": "A label kept with a new ticket for the portal's own "
                    "correlation. Whoever knows it can send it, so it proves nothing: it never "
                    "resumes, hands out or blocks a place. Needed in rooms with "
                    "identity = required; refused in rooms with identity = entry "
                    "(entry_required) unless an entry token comes along.",
                },
                "entry": {
                    "type": "string",
                    "maxLength": MAX_ENTRY_TOKEN_CHARS,
                    "description": "The portal's entry token: a JWT (JWS compact) with aud = "
                    "the room, sub, iat, exp (at most 1 h after iat) and jti, signed with the "
                    "server's pinned algorithm (EdDSA by default). Its sub is the vouched "
                    "identity. Rooms with identity = entry take joins only with one (or with the "
                    "ticket of an earlier join). Never in the query string.",
                },
                "ticket": {
                    "type": "string",
                    "maxLength": MAX_TOKEN_CHARS,
                    "description": "The ticket token of the place to resume (the `ticket` of "
                    "an earlier join answer), as the Python API's `ticket=`; the same as sending "
                    "it as the bearer token. Only this signed token resumes a place: anything "
                    "else (a ticket number, another room's ticket) is refused (401/403), never "
                    "taken for a new place. Never in the query string.",
                },
                "challenge": {
                    "type": "string",
                    "maxLength": 2048,
                    "description": "In a room with challenge_max_number above 0: the solved "
                    "proof-of-work challenge as ALTCHA's payload, base64 of the JSON "
                    "{algorithm, challenge, number, salt, signature}. Each solution joins once.",
                },
            },
            "additionalProperties": False,
        },
        "Challenge": {
            "type": "object",
            "description": "A proof-of-work challenge in ALTCHA's format (version 1): find the "
            "number in 0..maxnumber whose SHA-256 of salt + number (decimal) is challenge. "
            "Valid for 5 minutes, for this room only.",
            "properties": {
                "algorithm": {"const": "SHA-256"},
                "challenge": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "maxnumber": INTEGER,
                "salt": STRING,
                "signature": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
            "required": ["algorithm", "challenge", "maxnumber", "salt", "signature"],
        },
        "Left": _object(
            {
                "room": STRING,
                "state": {"const": "left"},
                "previous_state": {"type": "string", "enum": TICKET_STATES},
            }
        ),
        "Group": _object({"group": STRING, "free": INTEGER}),
        "GroupCounts": _object(
            {
                "group": STRING,
                "free": INTEGER,
                "held": INTEGER,
                "offered": INTEGER,
                "booked": INTEGER,
                "returned": INTEGER,
            }
        ),
        "PublicRoom": _object(
            {
                "room": STRING,
                "state": {"type": "string", "enum": ROOM_STATES},
                "opens_at": TIME,
                "closes_at": _nullable(TIME),
                "opens_in_seconds": INTEGER,
                "waiting": INTEGER,
                "active": INTEGER,
                "admit_per_minute": NUMBER,
                "measured_per_minute": NUMBER,
                "paused": BOOLEAN,
                "sold_out": BOOLEAN,
                "identity": {"type": "string", "enum": list(ROOM_ENUMS["identity"])},
                "returned_slots": {"type": "string", "enum": list(ROOM_ENUMS["returned_slots"])},
                "hold_seconds": INTEGER,
                "session_seconds": INTEGER,
                "next_release_window": _nullable(TIME),
                "groups": {"type": "array", "items": _ref("Group")},
            }
        ),
        "Slot": _object(
            {
                "id": STRING,
                "group": STRING,
                "starts_at": TIME,
                "state": {"type": "string", "enum": SLOT_STATES},
                "until": _nullable(TIME),
            }
        ),
        "SlotPage": _object(
            {
                "room": STRING,
                "group": _nullable(STRING),
                "groups": {"type": "array", "items": _ref("Group")},
                "slots": {"type": "array", "items": _ref("Slot")},
                "offset": INTEGER,
                "limit": INTEGER,
                "next_offset": _nullable(INTEGER),
            }
        ),
        "Hold": _object(
            {
                "slot": STRING,
                "group": STRING,
                "starts_at": TIME,
                "ticket_id": INTEGER,
                "until": TIME,
                "expires_in_seconds": INTEGER,
            }
        ),
        "Booking": _object(
            {
                "code": STRING,
                "slot": STRING,
                "group": STRING,
                "starts_at": TIME,
                "ticket_id": INTEGER,
                "state": {
                    "type": "string",
                    "enum": ["booked", "cancelled"],
                    "description": "A cancelled booking keeps answering by its code",
                },
                "cancelled_at": {
                    **_nullable(TIME),
                    "description": "When it was cancelled; null while it stands",
                },
            }
        ),
        "ConfirmRequest": {
            "type": "object",
            "properties": {
                "token": {
                    "type": "string",
                    "description": "The visitor's pass or ticket; only with the service token.",
                }
            },
            "additionalProperties": False,
        },
        "CompleteRequest": {
            "type": "object",
            "properties": {
                "token": {
                    "type": "string",
                    "description": "The visitor's pass; only with the service token.",
                }
            },
            "additionalProperties": False,
        },
        "Done": _object({"room": STRING, "slot": STRING, "state": STRING}, required=["room"]),
        "VerifyRequest": {
            "type": "object",
            "properties": {"pass": STRING, "room": STRING},
            "required": ["pass", "room"],
            "additionalProperties": False,
        },
        "Verified": _object(
            {
                "valid": {"const": True},
                "room": STRING,
                "ticket_id": INTEGER,
                "sub": {
                    **_nullable(STRING),
                    "description": "The person the pass was issued to: the entry token's sub "
                    "in rooms with identity = entry, else null. Bind the booking to it.",
                },
                "issued_at": TIME,
                "expires_at": TIME,
                "expires_in_seconds": INTEGER,
            }
        ),
        "RoomSettings": {
            "type": "object",
            "properties": {"id": ROOM_ID, **room_settings},
            "required": ["opens_at"],
            "additionalProperties": False,
            "description": "A room's settings, as in a [[rooms]] table of the config file.",
        },
        "RoomSettingsChange": {
            "type": "object",
            "properties": {"id": ROOM_ID, **room_settings},
            "additionalProperties": False,
        },
        "RoomConfig": _object(
            {"id": STRING, **{k: v for k, v in room_settings.items()}},
        ),
        "RoomChanged": _object({"config": _ref("RoomConfig"), "created": BOOLEAN}),
        "Stats": _object(
            {
                "room": STRING,
                "state": {"type": "string", "enum": ROOM_STATES},
                "opens_in_seconds": INTEGER,
                "waiting": INTEGER,
                "active": INTEGER,
                "max_active": INTEGER,
                "admit_per_minute": NUMBER,
                "measured_per_minute": NUMBER,
                "queue_all": BOOLEAN,
                "counters": {"type": "object", "additionalProperties": INTEGER},
                "groups": {"type": "array", "items": _ref("GroupCounts")},
                "next_release_window": _nullable(TIME),
                "draw": _nullable(
                    _object({"seed": INTEGER, "at": TIME, "mode": STRING, "size": INTEGER})
                ),
            }
        ),
        "AdminRoom": _object({"config": _ref("RoomConfig"), "stats": _ref("Stats")}),
        "RoomList": _object({"rooms": {"type": "array", "items": STRING}}),
        "Paused": _object({"room": STRING, "paused": BOOLEAN}),
        "QueueAllRequest": {
            "type": "object",
            "properties": {"on": BOOLEAN},
            "additionalProperties": False,
        },
        "QueueAll": _object({"room": STRING, "queue_all": BOOLEAN}),
        "SlotInput": {
            "type": "object",
            "properties": {
                "id": _id("slot_id"),
                "group": _id("group"),
                "starts_at": _limited(TIME, INPUT_RULES["starts_at"]),
            },
            "required": ["id", "group", "starts_at"],
            "additionalProperties": False,
        },
        "SlotsRequest": {
            "type": "object",
            "properties": {"slots": {"type": "array", "items": _ref("SlotInput")}},
            "required": ["slots"],
            "additionalProperties": False,
        },
        "SlotsAdded": _object({"room": STRING, "added": INTEGER}),
        "ReleaseRequest": {
            "type": "object",
            "properties": {"override": BOOLEAN, "reason": _nullable(_id("reason"))},
            "additionalProperties": False,
        },
        "Released": _object({"room": STRING, "released": INTEGER, "override": BOOLEAN}),
        "Forgotten": _object(
            {
                "room": STRING,
                "forgotten": _object(
                    {"identities": INTEGER, "labels": INTEGER, "booking_codes": INTEGER}
                ),
            }
        ),
        "AuditEntry": _object(
            {
                "at": TIME,
                "action": STRING,
                "actor": STRING,
                "count": INTEGER,
                "reason": _nullable(STRING),
            }
        ),
        "AuditLog": _object(
            {"room": STRING, "entries": {"type": "array", "items": _ref("AuditEntry")}}
        ),
        "Health": _object(
            {
                "status": {"type": "string", "enum": ["ok", "unhealthy"]},
                # Only when unhealthy: the tasks that died or hang.
                "tasks": {"type": "object", "additionalProperties": _ref("TaskHealth")},
            },
            required=["status"],
        ),
        "Ready": _object(
            {
                "status": {"type": "string", "enum": ["ready", "not_ready"]},
                "checks": {"type": "object", "additionalProperties": BOOLEAN},
                "tasks": {"type": "object", "additionalProperties": _ref("TaskHealth")},
                "clock": _ref("ClockStatus"),
            }
        ),
        "TaskHealth": _object(
            {
                "state": {
                    "type": "string",
                    "enum": ["running", "degraded", "failing", "stuck", "dead"],
                },
                "failures": INTEGER,
                "failing_for_seconds": _nullable(NUMBER),
                "last_error": _nullable(STRING),
                "last_success_seconds_ago": _nullable(NUMBER),
            }
        ),
        "ClockStatus": _object(
            {
                "source": {"type": "string", "enum": ["system", "virtual", "redis"]},
                "ok": BOOLEAN,
                "offset_seconds": _nullable(NUMBER),
                "synced_seconds_ago": _nullable(NUMBER),
            }
        ),
        "Clock": _object({"now": TIME, "speed": NUMBER}),
        "ClockRequest": {
            "type": "object",
            "properties": {"advance_seconds": {"type": "number", "minimum": 0}, "set": TIME},
            "additionalProperties": False,
        },
        "ClockMoved": _object({"now": TIME, "admitted": INTEGER}),
    }


_ERROR_TEXT: Final = {
    400: "Malformed input",
    401: "Missing or invalid token",
    403: "Token of another room or kind, or not admitted; or a proof-of-work solution that is "
    "forged, unsolved or of another room",
    404: "Unknown room, slot, ticket or booking",
    408: "The body did not arrive in time",
    409: "Conflict (slot_taken, limit_reached, hold_expired, challenge_replayed, …)",
    410: "Expired token or challenge, or the room is closed",
    413: "Body too large",
    415: "Unsupported media type",
    425: "not_open_yet: the room does not take joins yet; the message says when joining opens "
    "(RFC 3339, UTC) and in how long, in words; opens_in_seconds and Retry-After in seconds",
    428: "challenge_required: this room asks for a solved proof-of-work challenge to join; "
    "error.challenge is the challenge to solve",
    429: "Too many joins, or look-ups and cancels by booking code, from this address (Retry-After)",
    500: (
        "A fault of the server, logged: its random source failed (entropy_unavailable), or "
        "the room's saved state cannot be read (journal_incompatible, journal_corrupt)"
    ),
    503: (
        "The state store is unavailable (Redis lost, slow, failing over, or a replica did not "
        "acknowledge a hold, booking or cancel in time; or the journal could not be written: "
        "the change was not made, and changes are refused until a restart), or too many "
        "connections are open; retry after Retry-After seconds"
    ),
}

_ROOM_PARAM: Final = {
    "name": "room",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}


def _actor_header() -> dict[str, Any]:
    rule = _id("actor")
    return {
        "name": "X-Pyqueue-Actor",
        "in": "header",
        "required": False,
        "description": "Who makes the change, as the audit log names it (default admin): "
        + str(rule["description"]),
        "schema": rule,
    }


_ACTOR_HEADER: Final = _actor_header()


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ROOM_SETTINGS_REFUSED: Final = (
    "Settings that break a rule are refused as a whole with 400 invalid_config, whose "
    "error.problems lists every mistake at once, one line each naming its setting: unknown "
    "names, values of the wrong type and values outside their documented range alike."
)


def _op(
    summary: str,
    tag: str,
    ok: dict[int, tuple[str, str]],
    errors: list[int],
    *,
    body: str | None = None,
    body_required: bool = False,
    params: list[dict[str, Any]] | None = None,
    security: list[dict[str, list[str]]] | None = None,
    headers: dict[int, dict[str, Any]] | None = None,
    extra_content: dict[str, Any] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (schema, text) in ok.items():
        if schema == "":
            responses[str(status)] = {"description": text}
        else:
            responses[str(status)] = _json(_ref(schema), text)
        if headers and status in headers:
            responses[str(status)]["headers"] = headers[status]
    if body is not None:
        errors = [*errors, 400, 408, 413]
    if tag in ("visitor", "booking", "admin"):
        errors = [*errors, 500, 503]
    errors = sorted(set(errors))
    for status in errors:
        responses[str(status)] = _json(_ref("Error"), _ERROR_TEXT[status])
        if status in (429, 503):
            responses[str(status)]["headers"] = RETRY_LATER
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "operationId": _operation_id(summary),
        "responses": responses,
    }
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = params
    if security is not None:
        operation["security"] = security
    if body is not None:
        content: dict[str, Any] = {"application/json": {"schema": _ref(body)}}
        if extra_content:
            content.update(extra_content)
        operation["requestBody"] = {"required": body_required, "content": content}
    return operation


def _operation_id(summary: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in summary).split()
    return words[0].lower() + "".join(w.capitalize() for w in words[1:])


def _query(name: str, schema: Schema, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


RETRY_AFTER: Final = {
    "Retry-After": {"description": "Seconds until the next poll", "schema": {"type": "string"}}
}
RETRY_LATER: Final = {
    "Retry-After": {
        "description": "Seconds until a retry may succeed",
        "schema": {"type": "string"},
    }
}
Security = list[dict[str, list[str]]]
VISITOR: Final[Security] = [{"ticketBearer": []}, {"ticketCookie": []}]
PASS: Final[Security] = [{"passBearer": []}, {"passCookie": []}]
ANY_TOKEN: Final[Security] = [*PASS, *VISITOR]
ADMIN: Final[Security] = [{"adminBearer": []}]
SERVICE: Final[Security] = [{"serviceBearer": []}]
NONE: Final[Security] = [{}]


def _paths(virtual_clock: bool) -> dict[str, Any]:
    room = [_ROOM_PARAM]
    audited = [_ROOM_PARAM, _ACTOR_HEADER]
    slot = [_ROOM_PARAM, _path("slot")]
    code = [_ROOM_PARAM, _path("code")]
    paths: dict[str, Any] = {
        "/v1/rooms/{room}/join": {
            "post": _op(
                "Join the queue",
                "visitor",
                {
                    201: ("Joined", "A new place; sets the ticket cookie"),
                    200: ("Joined", "The place this ticket already had"),
                },
                [400, 401, 403, 404, 409, 410, 425, 428, 429],
                body="JoinRequest",
                params=room,
                security=[*VISITOR, {}],
                headers={201: RETRY_AFTER, 200: RETRY_AFTER},
                description="Idempotent for a ticket (cookie, bearer, or `ticket` in the "
                "body): reloads keep the place. A query parameter is refused (400 "
                "invalid_argument, naming it), so that `?ticket=` never silently gives a new "
                "place. An `identity` in the body is only the new ticket's label: another "
                "client sending the same one gets a place of its own, never this one. In entry "
                "rooms (identity = entry) the place belongs to the entry token's sub: a new "
                "entry token of the same person (another device) gets the same place; each "
                "token is accepted once (entry_replayed, 409). Entry token failures: "
                "entry_required, entry_malformed, entry_wrong_algorithm, entry_unknown_key, "
                "entry_bad_signature, entry_expired, entry_lifetime_too_long (401), "
                "entry_wrong_audience (403), entry_replayed (409), entry_store_full (503). "
                "In a room with a proof-of-work challenge, a join that takes a new place sends "
                "a solution as `challenge`; without one it is answered 428 with the challenge "
                "to solve. The holder of a valid ticket resumes without new work. A room with "
                "both checks the entry token first, so a refused token costs no work, then "
                "asks for the challenge. The answer carries the ticket token as `ticket` for "
                "apps.",
            )
        },
        "/v1/rooms/{room}/status": {
            "get": _op(
                "Get the status of a ticket",
                "visitor",
                {200: ("Status", "Place, estimate, pass and when to poll again")},
                [401, 403, 404, 410],
                params=room,
                security=VISITOR,
                headers={200: RETRY_AFTER},
                description="Also the ticket's heartbeat. Poll again after `poll_after_ms`.",
            )
        },
        "/v1/rooms/{room}/leave": {
            "post": _op(
                "Leave the queue",
                "visitor",
                {200: ("Left", "The place or session is given up; cookies are cleared")},
                [401, 403, 404, 410],
                params=room,
                security=[*VISITOR, *PASS],
            )
        },
        "/v1/rooms/{room}": {
            "get": _op(
                "Get the public state of a room",
                "visitor",
                {200: ("PublicRoom", "State, queue length, rate and free slots by group")},
                [404],
                params=room,
                security=NONE,
            )
        },
        "/v1/rooms/{room}/handoff": {
            "get": _op(
                "Go to the booking site",
                "visitor",
                {303: ("", "Redirect to the room's handoff_url with the pass as `pass`")},
                [401, 403, 404, 410],
                params=room,
                security=VISITOR,
            )
        },
        "/v1/rooms/{room}/slots": {
            "get": _op(
                "List free slots",
                "booking",
                {200: ("SlotPage", "Free slots, paged, and free counts by group")},
                [400, 401, 403, 404, 410],
                params=[
                    _ROOM_PARAM,
                    _query("group", STRING, "Only this group"),
                    _query("offset", {"type": "integer", "minimum": 0}, "Page start"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size"),
                ],
                security=PASS,
            )
        },
        "/v1/rooms/{room}/slots/{slot}/hold": {
            "post": _op(
                "Hold a slot",
                "booking",
                {201: ("Hold", "Held for this visitor until `until`")},
                [401, 403, 404, 409, 410],
                params=slot,
                security=PASS,
                description="An atomic claim: of concurrent holds exactly one wins; the others "
                "get 409 slot_taken with free `alternatives` of the same group.",
            ),
            "delete": _op(
                "Give a hold back",
                "booking",
                {200: ("Done", "The slot is free again (or passed on to the waiting list)")},
                [401, 403, 404, 409, 410],
                params=slot,
                security=ANY_TOKEN,
            ),
        },
        "/v1/rooms/{room}/slots/{slot}/confirm": {
            "post": _op(
                "Confirm a hold or offer",
                "booking",
                {201: ("Booking", "Booked; `code` cancels it")},
                [401, 403, 404, 409, 410],
                body="ConfirmRequest",
                params=slot,
                security=[*ANY_TOKEN, *SERVICE],
                description="With the visitor's pass (a hold) or ticket (a waiting-list offer), "
                "or with the service token and the visitor's token as `token`. A confirmation "
                "answered 503 may have booked: repeating it answers that booking and its code.",
            )
        },
        "/v1/rooms/{room}/offer/decline": {
            "post": _op(
                "Decline a waiting-list offer",
                "booking",
                {200: ("Done", "The slot is offered to the next in line")},
                [401, 403, 404, 409, 410],
                params=room,
                security=ANY_TOKEN,
            )
        },
        "/v1/rooms/{room}/complete": {
            "post": _op(
                "End the booking session",
                "booking",
                {200: ("Done", "The session's capacity goes to the next in line")},
                [401, 403, 404, 410],
                body="CompleteRequest",
                params=room,
                security=[*PASS, *SERVICE],
                description="With the visitor's pass, or server to server with the service "
                "token and the visitor's pass as `token`. In handoff mode this is the signal "
                "that a session ended: without it, sessions hold their place until their pass "
                "expires, and the wait estimate says so (`eta.reason` = `expiry`).",
            )
        },
        "/v1/rooms/{room}/bookings/{code}": {
            "get": _op(
                "Get a booking",
                "booking",
                {200: ("Booking", "The booking of this code, booked or cancelled (and when)")},
                [404, 429],
                params=code,
                security=NONE,
            )
        },
        "/v1/rooms/{room}/bookings/{code}/cancel": {
            "post": _op(
                "Cancel a booking",
                "booking",
                {
                    200: (
                        "Booking",
                        "Cancelled (state, cancelled_at); the slot returns by the room's rule",
                    )
                },
                [404, 429],
                params=code,
                security=NONE,
                description="The code is the credential, so look-ups and cancels by code are "
                "limited per client address (`code_rate_per_minute`). The slot becomes free at "
                "the next release window, or is offered to the next waiting visitor (waitlist). "
                "A code cancelled before answers with that cancellation again, changing nothing; "
                "so a cancel answered 503 can be repeated, or looked up.",
            )
        },
        "/v1/handoff/verify": {
            "post": _op(
                "Verify a pass",
                "booking",
                {200: ("Verified", "The pass is valid: for this room and ticket")},
                [401, 403, 404, 410],
                body="VerifyRequest",
                body_required=True,
                security=SERVICE,
                description="For booking sites, server to server, with the service token. "
                "An invalid pass answers with its error (401/403/410); a pass whose session "
                "ended (the visitor left or completed) answers session_ended (410).",
            )
        },
        "/v1/check": {
            "get": _op(
                "Check a pass for a reverse proxy",
                "sidecar",
                {204: ("", "The pass is valid; X-Pyqueue-Ticket names the ticket")},
                [400, 401],
                params=[_query("room", STRING, "The room the pass must be of", required=True)],
                security=[*PASS, {"passHeader": []}, {}],
                description="For nginx auth_request and forward auth. No I/O: the pass, and "
                "this process's memory of whether its session is still on (a visitor who left "
                "or completed gets session_ended). A 401 carries the waiting room in Location "
                "and X-Pyqueue-Location.",
            )
        },
        "/v1/admin/rooms": {
            "get": _op(
                "List rooms", "admin", {200: ("RoomList", "Room ids")}, [401, 403], security=ADMIN
            )
        },
        "/v1/admin/rooms/{room}": {
            "get": _op(
                "Get a room's settings and stats",
                "admin",
                {200: ("AdminRoom", "Settings and stats")},
                [401, 403, 404],
                params=room,
                security=ADMIN,
            ),
            "put": _op(
                "Create or replace a room",
                "admin",
                {201: ("RoomChanged", "Created"), 200: ("RoomChanged", "Settings replaced")},
                [401, 403],
                body="RoomSettings",
                body_required=True,
                params=audited,
                security=ADMIN,
                description=_ROOM_SETTINGS_REFUSED,
            ),
            "patch": _op(
                "Change some settings of a room",
                "admin",
                {200: ("RoomChanged", "Settings changed")},
                [401, 403, 404],
                body="RoomSettingsChange",
                body_required=True,
                params=audited,
                security=ADMIN,
                description=_ROOM_SETTINGS_REFUSED,
            ),
        },
        "/v1/admin/rooms/{room}/pause": {
            "post": _op(
                "Pause admissions",
                "admin",
                {200: ("Paused", "Paused")},
                [401, 403, 404],
                params=audited,
                security=ADMIN,
            )
        },
        "/v1/admin/rooms/{room}/resume": {
            "post": _op(
                "Resume admissions",
                "admin",
                {200: ("Paused", "Resumed")},
                [401, 403, 404],
                params=audited,
                security=ADMIN,
            )
        },
        "/v1/admin/rooms/{room}/queue-all": {
            "post": _op(
                "Send every join through the queue",
                "admin",
                {200: ("QueueAll", "Changed")},
                [401, 403, 404],
                body="QueueAllRequest",
                params=audited,
                security=ADMIN,
            )
        },
        "/v1/admin/rooms/{room}/slots": {
            "post": _op(
                "Load slots",
                "admin",
                {201: ("SlotsAdded", "Loaded, all or nothing")},
                [401, 403, 404, 409, 415],
                body="SlotsRequest",
                body_required=True,
                params=audited,
                security=ADMIN,
                extra_content={
                    "text/csv": {
                        "schema": {
                            "type": "string",
                            "description": "The first line is the header row "
                            "id,group,starts_at (columns in any order), then a slot a line; "
                            "without it, 400 invalid_argument saying so",
                        }
                    }
                },
                description="JSON or CSV, by the content type (application/json; text/csv "
                "or application/csv). Without one that says (none, curl's default "
                "application/x-www-form-urlencoded, text/plain, application/octet-stream) the "
                "body's first character that is not white space decides: `{` is JSON, "
                "anything else CSV. Any other content type is refused (415).",
            )
        },
        "/v1/admin/rooms/{room}/release": {
            "post": _op(
                "Release returned slots",
                "admin",
                {200: ("Released", "Released (audited)")},
                [401, 403, 404, 409],
                body="ReleaseRequest",
                params=audited,
                security=ADMIN,
                description="Refused (409 release_refused) before the next release window unless "
                "`override` is true and a `reason` is given; every release is audited, and so "
                "is a refused one (action release_refused, with the reason if one was given).",
            )
        },
        "/v1/admin/rooms/{room}/forget": {
            "post": _op(
                "Delete a closed room's personal data",
                "admin",
                {200: ("Forgotten", "Deleted: the counts by kind (audited)")},
                [401, 403, 404, 409],
                params=audited,
                security=ADMIN,
                description="Deletes the room's identities, labels and booking codes now, from "
                "memory, the data folder and Redis, as `retain_personal_data_hours` does by itself "
                "once it has run out. Refused (409 room_not_closed) while the room has not closed. "
                "Audited as `forget_personal_data` with the counts.",
            )
        },
        "/v1/admin/rooms/{room}/stats": {
            "get": _op(
                "Get a room's stats",
                "admin",
                {200: ("Stats", "Counters, capacity, availability, draw")},
                [401, 403, 404],
                params=room,
                security=ADMIN,
            )
        },
        "/v1/admin/rooms/{room}/audit": {
            "get": _op(
                "Get a room's audit log",
                "admin",
                {200: ("AuditLog", "Every operator and scheduled action")},
                [401, 403, 404],
                params=room,
                security=ADMIN,
            )
        },
        "/healthz": {
            "get": _op(
                "Liveness",
                "ops",
                {
                    200: ("Health", "The process answers and every background task is alive"),
                    503: ("Health", "A background task ended or hangs: restart the process"),
                },
                [],
                security=NONE,
            )
        },
        "/readyz": {
            "get": _op(
                "Readiness",
                "ops",
                {
                    200: ("Ready", "Ready for traffic"),
                    503: (
                        "Ready",
                        "Not ready: starting, stopping, the backend unreachable, a "
                        "background task failing, or the rooms' time not read from Redis",
                    ),
                },
                [],
                security=NONE,
            )
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "tags": ["ops"],
                "operationId": "metrics",
                "security": NONE,
                "description": "Answers while Redis is down: the process's own counters and "
                '`pyqueue_backend_up{backend="redis"} 0`, without the room gauges (they need '
                "Redis), rather than a failed scrape that looks like a dead process.",
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": STRING}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["ops"],
                "operationId": "openapi",
                "security": NONE,
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    if virtual_clock:
        paths["/v1/admin/clock"] = {
            "get": _op(
                "Read the virtual clock",
                "testing",
                {200: ("Clock", "The rooms' time")},
                [401, 403],
                security=ADMIN,
            ),
            "post": _op(
                "Move the virtual clock",
                "testing",
                {200: ("ClockMoved", "Moved, and every room ticked once")},
                [401, 403],
                body="ClockRequest",
                body_required=True,
                security=ADMIN,
                description="Only when the server runs on a virtual clock (tests, replays).",
            ),
        }
    return paths


def openapi_document(*, virtual_clock: bool = False) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pyqueue",
            "version": __version__,
            "description": "A fair admission queue (virtual waiting room) in front of a "
            'booking site. Errors are always {"error": {"code", "message"}}. Any request may '
            "also meet the connection limits: 408 `timeout` when its head (request line and "
            "headers) takes longer than server.header_timeout_seconds, and 503 "
            "`too_many_connections` with Retry-After while server.max_connections are open; "
            "both close the connection. A body whose Content-Encoding does not decode is a 400 "
            "`bad_request` that closes the connection.",
        },
        "tags": [
            {"name": "visitor", "description": "The waiting visitor (browser or app)"},
            {"name": "booking", "description": "Admitted visitors and booking sites"},
            {"name": "sidecar", "description": "Reverse proxies asking per request"},
            {"name": "admin", "description": "Operators, with the admin token"},
            {"name": "ops", "description": "Health, readiness, metrics"},
        ],
        "paths": _paths(virtual_clock),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "ticketBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The ticket from the join answer",
                },
                "ticketCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "pyqueue_ticket_{room}",
                    "description": "Set by join; the name ends with the room id",
                },
                "passBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The pass from an admitted status",
                },
                "passCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "pyqueue_pass_{room}",
                    "description": "Set with the admitted status; the name ends with the room id",
                },
                "passHeader": {"type": "apiKey", "in": "header", "name": "X-Pyqueue-Pass"},
                "adminBearer": {"type": "http", "scheme": "bearer"},
                "serviceBearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
