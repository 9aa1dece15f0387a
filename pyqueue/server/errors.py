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
from types import MappingProxyType
from typing import Any, Final

import orjson
from aiohttp import web

from pyqueue._core import (
    InvalidConfig,
    LimitReached,
    NotOpenYet,
    PyqueueError,
    ReleaseRefused,
    SlotTaken,
    error_codes,
)
from pyqueue.backends import BackendUnavailable
from pyqueue.config import ConfigError

#: HTTP status of the codes only the server and the Python backends raise: what only HTTP can
#: get wrong, and the backends' own faults. The core's codes come from ``error_codes()``.
SERVER_STATUS_BY_CODE: Final[Mapping[str, int]] = {
    "malformed_json": 400,
    "bad_request": 400,
    "token_missing": 401,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "unknown_room": 404,
    "no_handoff_url": 404,
    "method_not_allowed": 405,
    "timeout": 408,
    "challenge_replayed": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "challenge_required": 428,
    "rate_limited": 429,
    "header_too_large": 431,
    "internal": 500,
    "unavailable": 503,
    "too_many_connections": 503,
}


def merged_status_table(core: Mapping[str, int], server: Mapping[str, int]) -> Mapping[str, int]:
    """Both tables in one; a code in both would have two statuses, so it is refused."""
    overlap = sorted(set(core) & set(server))
    if overlap:
        raise RuntimeError(f"error codes of both the core and the server: {', '.join(overlap)}")
    return MappingProxyType({**core, **server})


#: HTTP status of every error code: exactly one each.
STATUS_BY_CODE: Final[Mapping[str, int]] = merged_status_table(error_codes(), SERVER_STATUS_BY_CODE)

_JSON: Final = "application/json"

log = logging.getLogger("pyqueue.server")


def known_code(code: str) -> tuple[str, int]:
    """The code to answer and its one status. A code no table knows is a bug of ours: it is
    logged and answered as ``internal`` (500), so clients only ever see documented codes."""
    status = STATUS_BY_CODE.get(code)
    if status is None:
        log.error("error code without an HTTP status", extra={"code": code})
        return "internal", 500
    return code, status


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
        if status is None:
            code, status = known_code(code)
        self.code = code
        self.message = message
        self.status = status
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
    if status is None:
        code, status = known_code(code)
    response = web.Response(
        body=error_body(code, message, details),
        status=status,
        content_type=_JSON,
        headers=headers,
    )
    response.headers["Cache-Control"] = "no-store"
    if response.status == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pyqueue"'
    return response


def response_for_pyqueue_error(exc: PyqueueError) -> web.Response:
    code: str = getattr(exc, "code", "")
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
    elif isinstance(exc, InvalidConfig):
        # Its message names each mistake (a change a running room may not take is one).
        details = {"problems": [str(exc)]}
    elif isinstance(exc, BackendUnavailable):
        # Redis lost or slow: the client may retry shortly.
        headers["Retry-After"] = "2"
    response = error_response(code, str(exc), headers=headers or None, details=details or None)
    if response.status == 500 and code in STATUS_BY_CODE:
        # A fault of the server (its random source, its saved state): the operator must see it.
        log.error("server fault", extra={"code": code, "error": str(exc)})
    return response


def response_for_api_error(exc: ApiError) -> web.Response:
    return error_response(
        exc.code, exc.message, status=exc.status, headers=exc.headers, details=exc.details
    )


def response_for_config_error(exc: ConfigError) -> web.Response:
    """Every mistake of the settings at once: ``problems`` has one line each."""
    return error_response(exc.code, str(exc), details={"problems": list(exc.problems)})


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
