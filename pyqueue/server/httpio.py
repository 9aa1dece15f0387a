"""Reading requests and writing answers: tokens, cookies, JSON bodies, client addresses.

These run on every request, so they avoid aiohttp's conveniences where those cost: the cookie
header is searched for the one cookie we need instead of being parsed whole, and answers are
built from bytes with their headers prepared once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

import orjson
from aiohttp import web
from multidict import CIMultiDict

from pyqueue.server.errors import ApiError

JSON_TYPE: Final = "application/json"
_BEARER: Final = "bearer "
#: Tokens are at most 512 characters (the core refuses longer ones without looking at them).
MAX_TOKEN_CHARS: Final = 512


def ticket_cookie(room: str) -> str:
    return f"pyqueue_ticket_{room}"


def pass_cookie(room: str) -> str:
    return f"pyqueue_pass_{room}"


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None or header[:7].lower() != _BEARER:
        return None
    token = header[7:].strip()
    return token or None


def cookie(request: web.Request, name: str) -> str | None:
    """The value of cookie ``name``, found without parsing the whole header."""
    header = request.headers.get("Cookie")
    if header is None:
        return None
    return find_cookie(header, name)


def find_cookie(header: str, name: str) -> str | None:
    key = name + "="
    start = 0
    while True:
        at = header.find(key, start)
        if at < 0:
            return None
        if at == 0 or header[at - 1] in " ;\t":
            begin = at + len(key)
            end = header.find(";", begin)
            value = (header[begin:] if end < 0 else header[begin:end]).strip()
            if len(value) >= 2 and value[0] == '"' == value[-1]:
                value = value[1:-1]
            return value or None
        start = at + 1


def json_response(
    data: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    hdrs = CIMultiDict({"Content-Type": JSON_TYPE, "Cache-Control": "no-store"})
    if headers:
        hdrs.update(headers)
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_UTC_Z), status=status, headers=hdrs
    )


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes:
    """The whole body, refused beyond ``limit`` bytes and after ``timeout`` seconds."""
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError("body_too_large", f"the body may have at most {limit} bytes")
    if not request.body_exists:
        return b""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limit:
                    raise ApiError("body_too_large", f"the body may have at most {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError("timeout", "the body did not arrive in time") from None
    return b"".join(chunks)


async def read_json_object(request: web.Request, limit: int, timeout: float) -> dict[str, Any]:
    """A JSON object body; an empty body is an empty object."""
    body = await read_body(request, limit, timeout)
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError("malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError("malformed_json", "the body must be a JSON object")
    return data


def optional_string(data: Mapping[str, Any], name: str, max_length: int = 256) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError("invalid_argument", f"{name} must be a string")
    if len(value) > max_length:
        raise ApiError("invalid_argument", f"{name} may have at most {max_length} characters")
    return value


def optional_bool(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ApiError("invalid_argument", f"{name} must be true or false")
    return value


def query_int(request: web.Request, name: str, default: int, minimum: int, maximum: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError("invalid_argument", f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise ApiError("invalid_argument", f"{name} must be between {minimum} and {maximum}")
    return value


def client_address(request: web.Request, trusted_header: str | None) -> str:
    """The client's address: from the trusted proxy's header if configured, else the peer."""
    if trusted_header is not None:
        value = request.headers.get(trusted_header)
        if value:
            # X-Forwarded-For lists the client first; our trusted proxy appended the peer it saw
            # last, so the last entry is the one the proxy vouches for.
            return value.rsplit(",", 1)[-1].strip()
    return request.remote or "unknown"


def is_secure(request: web.Request, always: bool, trusted_header: str | None) -> bool:
    if always or request.secure:
        return True
    return trusted_header is not None and request.headers.get("X-Forwarded-Proto") == "https"
