"""The aiohttp application: shared state and the routes of every audience.

Handlers are thin: they read the request, call the backend, and shape the answer. Errors are
raised as exceptions and answered in one place, :func:`errors.response_for_exception`, called
by :func:`_endpoint`, which wraps every handler but the two hottest (they call it themselves)
and also counts the request for the metrics. There is deliberately no middleware: aiohttp adds
two more layers per request as soon as there is one, and the status poll, which is most of a
surge, would pay for them. Paths that match no route end in a catch-all route that
answers 404 or 405 in the same JSON shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from pyqueue._core import VirtualClock
from pyqueue.backends import Backend
from pyqueue.config import Settings
from pyqueue.server import admin, booking, errors, ops, page, sidecar, visitor
from pyqueue.server.metrics import Metrics
from pyqueue.server.ratelimit import JoinRateLimiter
from pyqueue.server.state import STATE, ServerState
from pyqueue.server.ticker import start_server_tasks


def create_app(
    settings: Settings,
    backend: Backend,
    *,
    clock: VirtualClock | None = None,
    clock_speed: float = 0.0,
    run_ticker: bool = True,
) -> web.Application:
    """The application serving ``backend``.

    ``clock`` is the virtual clock the backend's rooms run on, if any (tests and surge
    replays): it turns on ``/v1/admin/clock`` and is advanced by the ticker at ``clock_speed``
    virtual seconds per real second. ``run_ticker=False`` leaves ticking to the caller.
    """
    server = settings.server
    metrics = Metrics()
    metrics.backend_kind = backend.kind
    state = ServerState(
        server=server,
        backend=backend,
        signer=server.signer(),
        entry=server.entry_verifier(),
        metrics=metrics,
        limiter=JoinRateLimiter(server.join_rate_per_minute, server.join_rate_burst),
        code_limiter=JoinRateLimiter(server.code_rate_per_minute, server.code_rate_burst),
        clock=clock,
        clock_speed=clock_speed,
    )
    app = web.Application(
        client_max_size=max(server.max_body_bytes, server.max_admin_body_bytes),
    )
    app[STATE] = state
    # The hot routes first: candidates under one path prefix are tried in this order. They
    # answer their own errors and count themselves, which spares the poll of a surge the
    # wrapper every other route gets.
    fast_rooms = [room.config.id for room in settings.rooms]
    app.router.add_routes([*sidecar.routes(state), *visitor.status_routes(state, fast_rooms)])
    table = [
        *visitor.routes(),
        *booking.routes(),
        *admin.routes(virtual_clock=clock is not None),
        *ops.routes(),
        *page.routes(app, settings),
    ]
    app.router.add_routes(
        web.RouteDef(
            route.method,
            route.path,
            _endpoint(route.handler, f"{route.method} {route.path}", metrics),
            route.kwargs,
        )
        for route in table
    )
    app.router.add_route("*", "/{tail:.*}", _endpoint(_unmatched, "unmatched", metrics))
    app.cleanup_ctx.append(_lifecycle(run_ticker))
    app.on_shutdown.append(_mark_shutting_down)
    return app


def _lifecycle(
    run_ticker: bool,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        state = app[STATE]
        await state.backend.start()
        for room_id in await state.backend.room_ids():
            await state.refresh_room(room_id)
        if run_ticker:
            start_server_tasks(state, state.tasks)
        state.started = True
        try:
            yield
        finally:
            state.started = False
            await state.tasks.stop()
            await state.backend.close()

    return lifecycle


async def _mark_shutting_down(app: web.Application) -> None:
    app[STATE].shutting_down = True


def _endpoint(handler: Handler, label: str, metrics: Metrics) -> Handler:
    """``handler`` with its errors answered as JSON and its answers counted."""
    requests = metrics.requests
    token_failures = metrics.token_failures

    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except Exception as exc:
            response = errors.response_for_exception(exc, request, token_failures)
        requests[(label, response.status)] += 1
        return response

    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _unmatched(request: web.Request) -> web.StreamResponse:
    """No route took the request: 405 if the path exists with other methods, else 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical == "/{tail}":
            continue
        _, methods = await resource.resolve(request)
        allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
    raise web.HTTPNotFound()
