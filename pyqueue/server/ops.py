"""Operations routes: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from pyqueue.backends import BackendUnavailable
from pyqueue.background import health
from pyqueue.server.httpio import json_response
from pyqueue.server.metrics import CONTENT_TYPE, RoomSnapshot
from pyqueue.server.openapi import openapi_document
from pyqueue.server.state import STATE, ServerState


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
        web.get("/openapi.json", openapi),
    ]


async def healthz(request: web.Request) -> web.Response:
    """The process answers and every background task is alive: restart it if not. A task
    that is failing (Redis down) is alive; one that ended or hangs in a step is not, and only
    a restart brings it back."""
    state = request.app[STATE]
    broken = [t for t in health(state.all_tasks()) if not t.alive]
    if broken:
        return json_response(
            {"status": "unhealthy", "tasks": {t.name: t.to_json() for t in broken}}, status=503
        )
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Send traffic here: started, not shutting down, backend reachable, every background task
    succeeding, and the rooms' time trustworthy."""
    state = request.app[STATE]
    tasks = health(state.all_tasks())
    clock = state.backend.clock_status()
    checks = {
        "started": state.started,
        "not_shutting_down": not state.shutting_down,
        "backend": state.started and await state.backend.ready(),
        "tasks": all(t.serving for t in tasks),
        "clock": clock.ok,
    }
    ready = all(checks.values())
    return json_response(
        {
            "status": "ready" if ready else "not_ready",
            "checks": checks,
            "tasks": {t.name: t.to_json() for t in tasks},
            "clock": clock.to_json(),
        },
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    """The scrape answers while the backend is down: an outage of Redis then shows as
    ``pyqueue_backend_up 0`` with the process's own counters, not as a failed scrape that looks
    like a dead process. The rooms' gauges, which need the backend, are left out meanwhile
    rather than shown stale."""
    state = request.app[STATE]
    try:
        state.metrics.rooms = await _room_snapshots(state)
        state.metrics.backend_up = await state.backend.ready()
    except BackendUnavailable:
        state.metrics.rooms = {}
        state.metrics.backend_up = False
    state.metrics.tasks = health(state.all_tasks())
    state.metrics.clock = state.backend.clock_status()
    response = web.Response(body=state.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


async def _room_snapshots(state: ServerState) -> dict[str, RoomSnapshot]:
    snapshots = {}
    for room in await state.backend.room_ids():
        config = await state.backend.room_config(room)
        snapshots[room] = RoomSnapshot(
            info=await state.backend.room_info(room), max_active=config.max_active
        )
    return snapshots


async def openapi(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_response(openapi_document(virtual_clock=state.clock is not None))
