"""Running the server: the event loop (uvloop), the listening socket, signals and a graceful
shutdown that lets requests in flight finish before the backend closes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiohttp import web

from pyqueue._core import VirtualClock
from pyqueue.backends import open_backend
from pyqueue.config import Settings, describe_settings
from pyqueue.server.app import create_app
from pyqueue.server.connections import ConnectionGuard, GuardedAppRunner
from pyqueue.server.logs import JsonAccessLogger
from pyqueue.server.state import STATE
from pyqueue.web.html import path_part

log = logging.getLogger("pyqueue.server")


def make_runner(app: web.Application, settings: Settings) -> GuardedAppRunner:
    server = settings.server
    guard = ConnectionGuard(
        server.max_connections, server.header_timeout_seconds, app[STATE].metrics
    )
    return GuardedAppRunner(
        app,
        guard,
        access_log=logging.getLogger("pyqueue.access") if server.access_log else None,
        access_log_class=JsonAccessLogger,
        keepalive_timeout=server.keepalive_seconds,
        max_line_size=server.max_header_bytes,
        max_field_size=server.max_header_bytes,
        shutdown_timeout=server.shutdown_timeout_seconds,
    )


async def serve(
    settings: Settings,
    *,
    clock: VirtualClock | None = None,
    clock_speed: float = 0.0,
    stop: asyncio.Event | None = None,
    announce: dict[str, Any] | None = None,
    reuse_port: bool = False,
) -> None:
    """Serves until SIGTERM/SIGINT (or ``stop``), then shuts down gracefully.

    ``announce`` adds fields to the "listening" log line (the demo's tokens).
    """
    server = settings.server
    if server.secrets_generated:
        log.warning("no secrets configured: random token keys, tickets end with this process")
    backend = open_backend(settings, clock)
    app = create_app(settings, backend, clock=clock, clock_speed=clock_speed)
    runner = make_runner(app, settings)
    await runner.setup()
    context = settings.server.ssl_context()
    site = web.TCPSite(
        runner,
        server.host,
        server.port,
        ssl_context=context,
        backlog=1024,
        reuse_address=True,
        # Workers of `serve --workers N` share the port; the kernel spreads the connections.
        reuse_port=reuse_port or None,
    )
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    host, port = _bound_address(runner, server.host, server.port)
    scheme = "https" if context else "http"
    base_url = f"{scheme}://{_url_host(host)}:{port}"
    # The address a person opens: the waiting-room page of each room (``/`` leads there too).
    room_ids = sorted(await app[STATE].backend.room_ids())
    pages = [f"{base_url}/rooms/{path_part(room)}" for room in room_ids]
    log.info(
        "listening",
        extra={
            **describe_settings(settings),
            "port": port,
            "url": base_url,
            "pages": pages,
            "virtual_clock": clock is not None,
            **(announce or {}),
        },
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        log.info("shutting down", extra={"timeout_seconds": server.shutdown_timeout_seconds})
        # Stops listening, lets requests in flight finish (up to the timeout), then stops the
        # ticker and closes the backend.
        await runner.cleanup()
        log.info("stopped")


def _bound_address(runner: web.AppRunner, host: str, port: int) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return host, port


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run(
    settings: Settings,
    *,
    clock: VirtualClock | None = None,
    clock_speed: float = 0.0,
    announce: dict[str, Any] | None = None,
    reuse_port: bool = False,
) -> None:
    """Runs :func:`serve` on uvloop until it stops."""
    import uvloop

    uvloop.run(
        serve(
            settings,
            clock=clock,
            clock_speed=clock_speed,
            announce=announce,
            reuse_port=reuse_port,
        )
    )
