"""What pyqueue relies on in aiohttp's private connection class.

`pyqueue.server.connections` subclasses `aiohttp.web_protocol.RequestHandler`, overrides some
of its methods, reads its private attributes, and swaps the class of the `web.Server` that
`web.AppRunner` builds. None of that is public API, so aiohttp is pinned to one minor version
in pyproject.toml. Raising the pin means reading these tests first: when one fails, the new
aiohttp changed something the connection guard depends on, and the guard must be re-checked
against the new code before the pin moves.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from packaging.requirements import Requirement

from pyqueue.server.connections import (
    OVER_CAP_RETRY_SECONDS,
    ConnectionGuard,
    GuardedAppRunner,
    GuardedRequestHandler,
)
from pyqueue.server.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent

#: How long anything here may take on a loaded machine before the test gives up.
PATIENCE = 60.0

#: The methods GuardedRequestHandler overrides or calls, with their parameters as
#: (name, kind, default) in the aiohttp version pinned.
P = inspect.Parameter
EXPECTED_METHODS = {
    "connection_made": [
        ("self", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("transport", P.POSITIONAL_OR_KEYWORD, P.empty),
    ],
    "data_received": [
        ("self", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("data", P.POSITIONAL_OR_KEYWORD, P.empty),
    ],
    "connection_lost": [
        ("self", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("exc", P.POSITIONAL_OR_KEYWORD, P.empty),
    ],
    "log_exception": [
        ("self", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("args", P.VAR_POSITIONAL, P.empty),
        ("kw", P.VAR_KEYWORD, P.empty),
    ],
    "handle_error": [
        ("self", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("request", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("status", P.POSITIONAL_OR_KEYWORD, 500),
        ("exc", P.POSITIONAL_OR_KEYWORD, None),
        ("message", P.POSITIONAL_OR_KEYWORD, None),
    ],
    "force_close": [("self", P.POSITIONAL_OR_KEYWORD, P.empty)],
}

#: Private attributes of a RequestHandler that the guard reads or sets.
EXPECTED_SLOTS = {
    "_manager",  # the web.Server, which carries the guard
    "_request_handler",  # replaced to answer 503 over the cap
    "_request_count",  # a head has been parsed when it grows
    "_waiter",  # set while the read loop waits for a message
    "_messages",  # parsed messages not yet handled
    "_loop",  # where the head timer is scheduled
    "transport",  # where the 408 is written
}


def parameters(function: object) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def callable_as(function: object) -> list[tuple[str, object, object]]:
    """The parameters as a caller sees them: the names of *args and **kwargs do not matter."""
    variadic = (P.VAR_POSITIONAL, P.VAR_KEYWORD)
    return [("*" if kind in variadic else name, kind, d) for name, kind, d in parameters(function)]


def test_the_installed_aiohttp_is_the_pinned_minor_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [Requirement(d) for d in project["dependencies"] if d.startswith("aiohttp")]
    assert len(pins) == 1
    pin = pins[0].specifier
    assert pin.contains(aiohttp.__version__), f"aiohttp {aiohttp.__version__} is outside {pin}"
    # The pin admits patch releases of one minor version only.
    major, minor, *_ = aiohttp.__version__.split(".")
    assert not pin.contains(f"{major}.{int(minor) + 1}.0"), f"{pin} admits the next minor version"


@pytest.mark.parametrize("name", sorted(EXPECTED_METHODS))
def test_the_request_handler_methods_the_guard_overrides_keep_their_signature(name: str):
    method = getattr(RequestHandler, name, None)
    assert callable(method), f"aiohttp's RequestHandler has no method {name!r} any more"
    assert parameters(method) == EXPECTED_METHODS[name], f"RequestHandler.{name} changed"
    if name != "force_close":
        # The override must take the same parameters as what it overrides.
        assert callable_as(getattr(GuardedRequestHandler, name)) == callable_as(method)


def test_the_private_attributes_the_guard_reads_are_still_there():
    slots = {
        slot
        for cls in RequestHandler.__mro__
        for slot in getattr(cls, "__slots__", ())
        if isinstance(slot, str)
    }
    assert slots >= EXPECTED_SLOTS, f"gone from RequestHandler: {EXPECTED_SLOTS - slots}"


def test_the_runner_still_builds_its_server_in_a_coroutine_the_guard_can_wrap():
    make_server = getattr(web.AppRunner, "_make_server", None)
    assert make_server is not None and inspect.iscoroutinefunction(make_server)
    assert parameters(make_server) == [("self", P.POSITIONAL_OR_KEYWORD, P.empty)]
    # The server's class is swapped for a subclass that builds the guarded handler from these.
    assert "loop" in inspect.signature(RequestHandler.__init__).parameters


# ------------------------------------------------------------------------------ behaviour


class Served:
    def __init__(self, runner: GuardedAppRunner, metrics: Metrics, port: int) -> None:
        self.runner = runner
        self.metrics = metrics
        self.port = port

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    metrics = Metrics()
    guard = ConnectionGuard(max_connections=1, header_timeout=0.5, metrics=metrics)
    runner = GuardedAppRunner(app, guard, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    try:
        yield Served(runner, metrics, port)
    finally:
        await runner.cleanup()


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of one HTTP answer with a Content-Length."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), PATIENCE)
    return int(status_line.split()[1]), headers, body


async def eventually(condition: object) -> None:
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


async def test_the_guarded_handler_serves_counts_and_refuses_over_the_cap(served: Served):
    server = served.runner.server
    assert server is not None and type(server).__name__ == "_GuardedServer"
    assert isinstance(server(), GuardedRequestHandler)

    reader, writer = await served.connect()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = await answer(reader)
    assert (status, body) == (200, b"hello")
    assert served.metrics.connections_open == 1

    # Over the cap of one: a 503 the client can read, with when to come back.
    reader2, writer2 = await served.connect()
    writer2.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = await answer(reader2)
    assert status == 503 and headers["retry-after"] == str(OVER_CAP_RETRY_SECONDS)
    assert json.loads(body)["error"]["code"] == "too_many_connections"
    assert served.metrics.connections_refused == 1

    await close(writer2)
    await close(writer)
    await eventually(lambda: served.metrics.connections_open == 0)


async def test_a_malformed_request_line_is_answered_in_json(served: Served):
    reader, writer = await served.connect()
    writer.write(b"NOT A REQUEST\r\n\r\n")
    status, headers, body = await answer(reader)
    assert status == 400 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"]
    await close(writer)


async def test_a_request_head_that_stops_halfway_gets_408(served: Served):
    reader, writer = await served.connect()
    writer.write(b"GET / HTTP/1.1\r\nHo")
    status, _, body = await answer(reader)
    assert status == 408 and json.loads(body)["error"]["code"] == "timeout"
    assert served.metrics.header_timeouts == 1
    assert await asyncio.wait_for(reader.read(), PATIENCE) == b""
    await close(writer)
