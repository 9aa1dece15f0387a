"""Reading requests and writing answers: tokens, cookies, JSON bodies, client addresses, and
the join rate limit by address.

These run on every request, so they avoid aiohttp's conveniences where those cost: the cookie
header is searched for the one cookie we need instead of being parsed whole, and answers are
built from bytes with their headers prepared once.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict

from pyqueue.config import INPUT_RULES, ServerSettings, text_rule
from pyqueue.server.errors import ApiError
from pyqueue.server.polling import retry_after

if TYPE_CHECKING:
    # Only for annotations: the state module builds on this one.
    from pyqueue.server.ratelimit import JoinRateLimiter
    from pyqueue.server.state import ServerState

JSON_TYPE: Final = "application/json"
_BEARER: Final = "bearer "
#: Tokens are at most 640 characters (the core refuses longer ones without looking at them).
MAX_TOKEN_CHARS: Final = 640
#: The longest entry token (the core's limit: a JWT with a few claims is far shorter).
MAX_ENTRY_TOKEN_CHARS: Final = 4096
#: Room ids are the core's rule: 1 to 64 of A-Z a-z 0-9 _ - (safe in URLs, cookie names, Redis
#: keys and nginx configs; a token carries its room in at most 64 bytes).
MAX_ROOM_ID_CHARS, _ROOM_ID = text_rule("room_id")
ROOM_ID_RULE: Final = f"a room id is {INPUT_RULES['room_id'].text}"


def is_room_id(text: str) -> bool:
    return _ROOM_ID.fullmatch(text) is not None


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


def bearer_matches(request: web.Request, expected: str | None) -> bool:
    """Whether the bearer token is ``expected``; never when no token is configured."""
    given = bearer(request)
    # Compared as bytes in constant time, so the answer time says nothing about the token.
    return (
        given is not None
        and expected is not None
        and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))
    )


def require_bearer(request: web.Request, expected: str | None, kind: str, unset: str) -> None:
    """Raises unless the bearer token is the configured ``kind`` token ("admin", "service");
    ``unset`` is the refusal when the server has none."""
    if expected is None:
        raise ApiError("forbidden", unset)
    if not bearer_matches(request, expected):
        raise ApiError(
            "unauthorized",
            f"send the {kind} token as Authorization: Bearer",
            headers={"WWW-Authenticate": f'Bearer realm="pyqueue-{kind}"'},
        )


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
    except RequestPayloadError as exc:
        # Typically Content-Encoding: gzip over bytes that are not gzip. Where this request
        # ends in the stream is unknown now, so the connection ends with the answer; the body
        # is marked finished so that aiohttp does not read (and log) its broken rest first.
        request.content.feed_eof()
        request.protocol.close()
        raise ApiError(
            "bad_request",
            f"the body cannot be read: {_reason(exc)}",
            headers={"Connection": "close"},
        ) from None
    return b"".join(chunks)


def _reason(exc: RequestPayloadError) -> str:
    cause = exc.__cause__
    return str(getattr(cause, "message", None) or cause or "malformed").strip()


async def read_json_object(request: web.Request, settings: ServerSettings) -> dict[str, Any]:
    """A JSON object body, within the server's body limits; an empty body is an empty object."""
    body = await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError("malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError("malformed_json", "the body must be a JSON object")
    return data


def reject_unknown(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuses the fields of a JSON body that are not in ``allowed``, naming them."""
    unknown = set(data).difference(allowed)
    if unknown:
        raise ApiError("invalid_argument", f"unknown field(s): {', '.join(sorted(unknown))}")


def reject_unknown_query(request: web.Request, allowed: Iterable[str] = ()) -> None:
    """Refuses query parameters that are not in ``allowed``, naming them: a parameter the
    route does not read would otherwise be ignored without a word."""
    unknown = sorted(set(request.query).difference(allowed))
    if unknown:
        # Client text: escaped and cut as every refused text is repeated.
        names = ", ".join(_shown(name) for name in unknown[:5])
        raise ApiError("invalid_argument", f"unknown query parameter(s): {names}")


def _shown(text: str) -> str:
    if len(text) <= 40 and text.replace("_", "a").replace("-", "a").isalnum() and text.isascii():
        return text
    return ascii(text[:40]) + ("…" if len(text) > 40 else "")


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


def set_visitor_cookie(
    request: web.Request,
    response: web.StreamResponse,
    settings: ServerSettings,
    name: str,
    value: str,
    max_age: int,
) -> None:
    """A cookie of the visitor's browser (ticket, pass, language, booking): for the whole site,
    HttpOnly, SameSite=Lax, and Secure when the visitor came over TLS or the settings say so."""
    response.set_cookie(
        name,
        value,
        max_age=max(1, max_age),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=is_secure(request, settings.cookie_secure, settings.trusted_proxy_header),
    )


def take_join_slot(request: web.Request, state: ServerState) -> None:
    """Takes a join from the address's rate limit; raises ``rate_limited`` when it has none."""
    wait = over_limit(request, state, state.limiter)
    if wait:
        state.metrics.rate_limited += 1
        raise rate_limited("joins", wait)


def over_limit(request: web.Request, state: ServerState, limiter: JoinRateLimiter) -> float:
    """Takes one request from the client address's bucket in ``limiter``; the seconds until
    the bucket has one again, or 0 when it had one."""
    if not limiter.enabled:
        return 0.0
    return limiter.acquire(client_address(request, state.server.trusted_proxy_header))


def rate_limited(what: str, wait: float) -> ApiError:
    """The 429 for too many ``what`` from one address, with ``Retry-After``."""
    return ApiError(
        "rate_limited",
        f"too many {what} from this address; try again later",
        headers={"Retry-After": retry_after(int(wait * 1000) + 1)},
    )
