"""Hostile requests against every route of the application, API and pages: random methods,
path values, queries, bodies (JSON, forms, multipart, bytes that are not UTF-8, claims of a
Content-Encoding), cookies (real, forged and tampered tickets, passes and holds) and headers,
with and without the admin token, on the memory backend and on a real Redis. No answer may
be a 5xx and nothing may be logged at error level.

The routes are read from the application's router, so a new route is fuzzed without a change
here. ``PYQUEUE_FUZZ_CASES`` sets the cases per backend (default 1500, about ten seconds
each); a larger run, as the README shows: ``PYQUEUE_FUZZ_CASES=50000 .venv/bin/python -m
pytest tests/test_server_fuzz_routes.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyqueue
from pyqueue.backends import open_backend
from pyqueue.config import settings_from_mapping
from pyqueue.server.app import create_app
from pyqueue.server.connections import ConnectionGuard, GuardedAppRunner
from pyqueue.server.page_http import encode_cookie
from pyqueue.server.state import STATE
from tests.redis_fixtures import flush, redis_url  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.slow

CASES = int(os.environ.get("PYQUEUE_FUZZ_CASES", "1500"))
ADMIN = "admin-token-of-the-route-fuzzing"
SERVICE = "service-token-of-the-route-fuzzing"
SECRET = "a-secret-of-the-route-fuzzing-0123456789"
NOW = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
ROOMS = ("kiel", "husum")


# ------------------------------------------------------------------------------ the site


@dataclass
class Target:
    """The application on one backend, its event loop, and real tokens to reach deeper."""

    loop: asyncio.AbstractEventLoop
    app: web.Application
    client: TestClient[web.Request, web.Application]
    routes: list[tuple[str, str]]
    tokens: dict[str, str]

    def send(self, request: Request) -> tuple[int, str]:
        return self.loop.run_until_complete(self._send(request))

    async def _send(self, request: Request) -> tuple[int, str]:
        async with self.client.request(
            request.method,
            request.path,
            params=request.query,
            data=request.body,
            headers=request.headers,
            allow_redirects=False,
            # The path is sent as generated: percent-escapes and all.
            skip_auto_headers=["Content-Type"],
        ) as response:
            return response.status, (await response.read())[:300].decode("utf-8", "replace")


class GuardedTestServer(TestServer):
    """The test server with the production connection layer (head deadline, cap, protocol
    errors in JSON), so that requests the parser refuses are fuzzed as served."""

    def __init__(self, app: web.Application, config: Any) -> None:
        super().__init__(app)
        self._config = config

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        server = self._config.server
        guard = ConnectionGuard(
            server.max_connections, server.header_timeout_seconds, self.app[STATE].metrics
        )
        return GuardedAppRunner(self.app, guard, **kwargs)


def _settings(backend: str) -> Any:
    opens = NOW - timedelta(minutes=5)
    slots = [
        {"id": f"s{i}", "group": "Kiel Ostseehalle", "starts_at": f"2021-05-12T08:{i:02d}:00Z"}
        for i in range(6)
    ]
    data = {
        "server": {
            "backend": backend,
            "admin_token": ADMIN,
            "service_token": SERVICE,
            "secrets": {"k1": SECRET},
            "join_rate_per_minute": 0,
        },
        "rooms": [
            {
                "id": "kiel",
                "opens_at": opens.isoformat(),
                "admit_per_minute": 600,
                "max_active": 50,
                "returned_slots": "waitlist",
                "handoff_url": "https://book.example/go",
                "slots": slots,
                "page": {"title": "Kiel", "accent_color": "#ffee00"},
            },
            {
                "id": "husum",
                "opens_at": (NOW + timedelta(hours=2)).isoformat(),
                "identity": "required",
                "prequeue": "shuffle",
            },
        ],
    }
    return settings_from_mapping(data, base_dir=Path.cwd(), env={})


async def _start(backend: str) -> Target:
    clock = pyqueue.VirtualClock(NOW)
    config = _settings(backend)
    app = create_app(config, open_backend(config, clock), clock=clock, run_ticker=False)
    client: TestClient[web.Request, web.Application] = TestClient(
        GuardedTestServer(app, config), cookie_jar=DummyCookieJar()
    )
    await client.start_server()
    routes = sorted(
        {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        }
    )
    tokens = await _real_tokens(client)
    return Target(asyncio.get_running_loop(), app, client, routes, tokens)


async def _real_tokens(client: TestClient[web.Request, web.Application]) -> dict[str, str]:
    """A ticket that is still waiting, and the pass of one that was admitted."""
    auth = {"Authorization": f"Bearer {ADMIN}"}
    async with client.post("/v1/rooms/kiel/join", json={}) as response:
        admitted = (await response.json())["ticket"]
    async with client.post("/v1/admin/clock", json={"advance_seconds": 5}, headers=auth):
        pass
    async with client.get(
        "/v1/rooms/kiel/status", headers={"Authorization": f"Bearer {admitted}"}
    ) as response:
        status = await response.json()
    assert status.get("pass"), status
    async with client.post("/v1/rooms/husum/join", json={"identity": "REG-1"}) as response:
        waiting = (await response.json())["ticket"]
    return {"ticket": admitted, "pass": status["pass"], "waiting": waiting}


@pytest.fixture(scope="module", params=["memory", "redis"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    backend = "memory"
    if request.param == "redis":
        backend = request.getfixturevalue("redis_url")
        flush(backend)
    loop = asyncio.new_event_loop()
    try:
        target = loop.run_until_complete(_start(backend))
        yield target
        loop.run_until_complete(target.client.close())
    finally:
        loop.close()


# ---------------------------------------------------------------------------- requests


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes | None


def _texts(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size)


_SAFE_SEGMENT = st.from_regex(r"[A-Za-z0-9_.~-]{1,20}", fullmatch=True)
_ESCAPED_SEGMENT = st.binary(min_size=1, max_size=20).map(
    lambda raw: "".join(f"%{b:02X}" for b in raw)
)
_PATH_VALUES: dict[str, st.SearchStrategy[str]] = {
    # Mostly real rooms and slots, so that requests get past the lookup.
    "room": st.sampled_from(
        ["kiel"] * 8 + ["husum"] * 3 + ["nowhere", "a" * 65, "k%C3%BCl", "%00", "..", "kiel "]
    ),
    "slot": st.sampled_from(["s0", "s1", "s1", "s2", "s5", "nope", "%FF", "a" * 300]),
    "code": st.sampled_from(["AB12C-DE34F", "x", "%FF%FE", "A" * 200]),
    "name": st.sampled_from(["page.css", "page.js", "../secrets", "nope.css", "%2e%2e"]),
    "tail": st.sampled_from(["", "x", "v1/nothing", "rooms/kiel/nope", "%FF"]),
}
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _texts(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts(12), inner, max_size=4),
    max_leaves=12,
)
_FIELD_NAMES = st.sampled_from(
    [
        "identity",
        "code",
        "slot",
        "group",
        "advance_seconds",
        "set",
        "reason",
        "pass",
        "room",
        "opens_at",
        "admit_per_minute",
        "max_active",
        "slots",
        "at",
        "lang",
        "offset",
        "limit",
        "cancelled",
        "v",
        "after",
    ]
)
_FIELD_VALUES = st.one_of(
    _texts(),
    st.integers().map(str),
    st.sampled_from(["", "0", "-1", "1e400", "nan", "true", "2021-05-12T08:00:00Z", "s1"]),
)


@st.composite
def _json_body(draw: st.DrawFn) -> tuple[bytes, str]:
    if draw(st.booleans()):
        # Objects with the field names the routes know, so that validation is reached.
        value: Any = draw(st.dictionaries(_FIELD_NAMES, _JSON, max_size=4))
    else:
        value = draw(_JSON)
    return orjson.dumps(value), "application/json"


@st.composite
def _form_body(draw: st.DrawFn) -> tuple[bytes, str]:
    fields = draw(st.lists(st.tuples(_FIELD_NAMES | _texts(8), _FIELD_VALUES), max_size=5))
    from urllib.parse import urlencode

    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


@st.composite
def _raw_body(draw: st.DrawFn) -> tuple[bytes, str]:
    body = draw(
        st.one_of(
            st.binary(max_size=200),
            st.sampled_from([b"code=\xff\xfe", b"identity=%ff", b"{", b"[1,", b"\x00" * 10]),
        )
    )
    content_type = draw(
        st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=latin-1",
                "multipart/form-data",
                "multipart/form-data; boundary=pq",
                "text/csv",
                "text/plain",
                "",
                "application/json; charset=utf-16",
            ]
        )
    )
    return body, content_type


_BODIES = st.one_of(st.none(), _json_body(), _form_body(), _raw_body())


def _encoded(body: bytes, encoding: str) -> bytes:
    """``body`` in ``encoding``; "lie" claims gzip without compressing."""
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


_NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1620800000, 1620806400.5, 253402300799, 0, -1]),
    st.sampled_from([1620800000, 1620806400.5, 253402300799, 0, -1]),
)


def _holds(slot: str) -> st.SearchStrategy[str]:
    """Hold cookies shaped like the real one (mostly for the slot in the path), with any
    values; and any JSON object at all."""
    return st.one_of(
        st.fixed_dictionaries(
            {
                "slot": st.sampled_from([slot, slot, slot, "s0", "nope"]),
                "group": _texts(),
                "starts_at": _NUMBERS,
                "until": _NUMBERS,
            }
        ),
        st.dictionaries(
            st.sampled_from(["slot", "group", "starts_at", "until"]), _JSON, max_size=4
        ),
    ).map(encode_cookie)


def _cookies(draw: st.DrawFn, tokens: dict[str, str], room: str, slot: str) -> str | None:
    if room not in ROOMS:
        room = draw(st.sampled_from(ROOMS))
    garbage = _texts(60).filter(lambda v: ";" not in v and "\r" not in v and "\n" not in v)
    real = st.sampled_from(list(tokens.values()))
    # A real token with a few characters changed.
    tampered = real.map(lambda t: t[:-3] + "AAA")
    by_name = {
        f"pyqueue_ticket_{room}": st.one_of(real, tampered, garbage),
        f"pyqueue_pass_{room}": st.one_of(st.just(tokens["pass"]), real, tampered, garbage),
        f"pyqueue_hold_{room}": st.one_of(_holds(slot), _holds(slot), garbage),
        f"pyqueue_booking_{room}": st.one_of(st.just("AB12C-DE34F"), garbage),
        "pyqueue_lang": st.one_of(st.sampled_from(["de", "en", "xx", ""]), garbage),
    }
    # The pass most of the time: most pages need it.
    names = [f"pyqueue_pass_{room}"] if draw(st.integers(0, 9)) < 6 else []
    names += draw(st.lists(st.sampled_from(sorted(by_name)), max_size=3, unique=True))
    names = list(dict.fromkeys(names))
    if not names:
        return None
    return "; ".join(f"{name}={draw(by_name[name])}" for name in names)


def _header_safe(value: str) -> str:
    # aiohttp's client refuses control characters in headers; the server never sees them.
    return re.sub(r"[\x00-\x1f\x7f]", "", value)


@st.composite
def requests(draw: st.DrawFn, target: Target) -> Request:
    method, canonical = draw(st.sampled_from(target.routes))
    if method == "*" or draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))

    filled: dict[str, str] = {}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        strategy = _PATH_VALUES.get(name, _SAFE_SEGMENT)
        if draw(st.integers(0, 9)) < 8:
            filled[name] = draw(strategy)
        else:
            filled[name] = draw(st.one_of(_SAFE_SEGMENT, _ESCAPED_SEGMENT))
        return filled[name]

    path = re.sub(r"\{(\w+)(?::[^}]*)?\}", fill, canonical)
    query = draw(st.dictionaries(_FIELD_NAMES, _FIELD_VALUES, max_size=4))
    headers: dict[str, str] = {}
    kinds = ["none", "admin", "service", "ticket", "pass", "waiting", "forged", "garbage"]
    if path.startswith("/v1/admin"):
        # Mostly with the token, so that the admin routes' own checks are reached.
        kinds += ["admin"] * 16
    auth = draw(st.sampled_from(kinds))
    if auth in ("admin", "service"):
        headers["Authorization"] = f"Bearer {ADMIN if auth == 'admin' else SERVICE}"
    elif auth in target.tokens:
        headers["Authorization"] = f"Bearer {target.tokens[auth]}"
    elif auth == "forged":
        headers["Authorization"] = "Bearer k1.AQIAAAAA.AAAAAAAAAAAAAAAAAAAAAA"
    elif auth == "garbage":
        headers["Authorization"] = _header_safe(draw(_texts(80)))
    cookie = _cookies(draw, target.tokens, filled.get("room", ""), filled.get("slot", "s1"))
    if cookie is not None:
        headers["Cookie"] = _header_safe(cookie)
    for name in draw(
        st.lists(
            st.sampled_from(
                [
                    "Accept-Language",
                    "Origin",
                    "User-Agent",
                    "X-Forwarded-For",
                    "X-Forwarded-Proto",
                    "X-Pyqueue-Actor",
                    "Sec-Purpose",
                    "If-None-Match",
                    "Range",
                ]
            ),
            max_size=3,
            unique=True,
        )
    ):
        headers[name] = _header_safe(draw(_texts(60)))
    body = draw(_BODIES)
    data: bytes | None = None
    if body is not None:
        data, content_type = body
        if content_type:
            headers["Content-Type"] = content_type
        encoding = draw(st.sampled_from(["", "", "gzip", "deflate", "lie", "br", "x-unknown"]))
        if encoding:
            data = _encoded(data, encoding)
            headers["Content-Encoding"] = "gzip" if encoding == "lie" else encoding
    return Request(method, path, query, headers, data)


# ------------------------------------------------------------------------------- the test


class _ErrorLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_lines() -> Iterator[_ErrorLines]:
    handler = _ErrorLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_no_request_is_answered_5xx_or_logged_as_an_error(
    target: Target, error_lines: _ErrorLines
) -> None:
    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        request = data.draw(requests(target))
        error_lines.records.clear()
        status, text = target.send(request)
        assert status < 500, (request, status, text)
        assert not error_lines.records, (request, [r.getMessage() for r in error_lines.records])

    check()
