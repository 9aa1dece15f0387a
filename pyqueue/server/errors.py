"""The single mapping from errors to HTTP answers.

Every error a client can cause becomes ``{"error": {"code", "message", …details}}`` with the
status below. Core exceptions carry their stable ``code``; the server adds its own codes for
what only HTTP can get wrong (a missing token, a bad body, a route that does not exist).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import orjson
from aiohttp import web

from pyqueue._core import (
    LimitReached,
    NotOpenYet,
    PyqueueError,
    ReleaseRefused,
    SlotTaken,
)
from pyqueue.backends import BackendUnavailable
from pyqueue.config import ConfigError

#: HTTP status of every error code. Codes not listed are client errors (400).
STATUS_BY_CODE: Final[Mapping[str, int]] = {
    # malformed input
    "invalid_argument": 400,
    "invalid_config": 400,
    "malformed_json": 400,
    "identity_required": 400,
    "bad_request": 400,
    # tokens
    "token_missing": 401,
    "token_malformed": 401,
    "token_bad_signature": 401,
    "token_unknown_key": 401,
    "unauthorized": 401,
    "token_expired": 410,
    "token_wrong_room": 403,
    "token_wrong_kind": 403,
    # a genuine pass whose session is over (left, completed, ran out)
    "session_ended": 410,
    # entry tokens: the portal's signed word for a person (see pyqueue._core.EntryVerifier)
    "entry_required": 401,
    "entry_malformed": 401,
    "entry_wrong_algorithm": 401,
    "entry_unknown_key": 401,
    "entry_bad_signature": 401,
    "entry_expired": 401,
    "entry_lifetime_too_long": 401,
    "entry_wrong_audience": 403,
    "entry_replayed": 409,
    "entry_store_full": 503,
    "not_admitted": 403,
    "forbidden": 403,
    # proof of work on join: every refusal carries a fresh challenge to solve
    "challenge_required": 428,
    "challenge_malformed": 400,
    "challenge_bad_signature": 403,
    "challenge_unsolved": 403,
    "challenge_wrong_room": 403,
    "challenge_expired": 410,
    "challenge_replayed": 409,
    # unknown things
    "not_found": 404,
    "unknown_room": 404,
    "unknown_slot": 404,
    "unknown_booking": 404,
    "unknown_ticket": 404,
    "no_handoff_url": 404,
    "method_not_allowed": 405,
    # conflicts
    "slot_taken": 409,
    "limit_reached": 409,
    "hold_expired": 409,
    "not_holder": 409,
    "no_hold": 409,
    "no_offer": 409,
    "duplicate_slot": 409,
    "release_refused": 409,
    # time
    "room_closed": 410,
    "not_open_yet": 425,
    # limits
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "header_too_large": 431,
    "rate_limited": 429,
    # ours
    "internal": 500,
    "unavailable": 503,
    "too_many_connections": 503,
    "timeout": 408,
}

_JSON: Final = "application/json"

log = logging.getLogger("pyqueue.server")


class ApiError(Exception):
    """An error the server itself detects; raised by handlers, answered by the middleware."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_BY_CODE.get(code, 400)
        self.headers = headers
        self.details = details


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error.update(details)
    return orjson.dumps({"error": error}, option=orjson.OPT_UTC_Z)


def error_response(
    code: str,
    message: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> web.Response:
    response = web.Response(
        body=error_body(code, message, details),
        status=status if status is not None else STATUS_BY_CODE.get(code, 400),
        content_type=_JSON,
        headers=headers,
    )
    response.headers["Cache-Control"] = "no-store"
    if response.status == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pyqueue"'
    return response


def response_for_pyqueue_error(exc: PyqueueError) -> web.Response:
    code: str = getattr(exc, "code", "invalid_argument")
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, SlotTaken):
        details = {"slot": exc.slot, "alternatives": list(exc.alternatives)}
    elif isinstance(exc, LimitReached):
        details = {"limit": exc.limit}
    elif isinstance(exc, NotOpenYet):
        wait = max(0.0, float(exc.opens_in_seconds))
        details = {"opens_in_seconds": round(wait)}
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    elif isinstance(exc, ReleaseRefused):
        details = {"next_window": exc.next_window}
    elif isinstance(exc, BackendUnavailable):
        # Redis lost or slow: the client may retry shortly.
        headers["Retry-After"] = "2"
    return error_response(code, str(exc), headers=headers or None, details=details or None)


def response_for_api_error(exc: ApiError) -> web.Response:
    return error_response(
        exc.code, exc.message, status=exc.status, headers=exc.headers, details=exc.details
    )


def response_for_config_error(exc: ConfigError) -> web.Response:
    return error_response(exc.code, str(exc))


def response_for_http_exception(exc: web.HTTPException) -> web.Response:
    """aiohttp's own errors (no route, wrong method, body too large) in our JSON shape."""
    status = exc.status
    code = {
        400: "bad_request",
        404: "not_found",
        405: "method_not_allowed",
        408: "timeout",
        413: "body_too_large",
        415: "unsupported_media_type",
        431: "header_too_large",
    }.get(status)
    if code is None:
        code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    message = (
        {
            "not_found": "no such resource; see /openapi.json",
            "method_not_allowed": "this method is not allowed here",
        }.get(code)
        or exc.text
        or HTTPStatus(status).phrase
    )
    headers = {}
    if "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return error_response(code, message, status=status, headers=headers or None)


def response_for_exception(
    exc: Exception, request: web.BaseRequest, token_failures: defaultdict[str, int]
) -> web.Response:
    """The JSON answer to whatever a handler raised; token failures are counted by code.

    aiohttp's redirects (HTTP exceptions under 400) are raised again, for aiohttp to send.
    """
    if isinstance(exc, PyqueueError):
        response = response_for_pyqueue_error(exc)
        code = getattr(exc, "code", "")
    elif isinstance(exc, ApiError):
        response = response_for_api_error(exc)
        code = exc.code
    elif isinstance(exc, ConfigError):
        return response_for_config_error(exc)
    elif isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return response_for_http_exception(exc)
    else:
        log.exception("request failed", extra={"method": request.method, "path": request.path})
        return internal_error_response()
    if code.startswith("token_"):
        token_failures[code] += 1
    return response


def internal_error_response() -> web.Response:
    return error_response("internal", "an internal error occurred; it has been logged")


def code_for_status(status: int) -> str:
    """The code of a low-level protocol error (bad request line, oversized header)."""
    return {413: "body_too_large", 431: "header_too_large", 408: "timeout"}.get(
        status, "bad_request" if status < 500 else "internal"
    )
