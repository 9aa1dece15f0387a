"""Operations routes, errors outside the routes, and the OpenAPI document as the truth."""

from __future__ import annotations

import logging
import re
from typing import Any

from pyqueue.backends import BackendUnavailable
from pyqueue.backends.memory import MemoryBackend
from pyqueue.server import STATE, openapi_document
from pyqueue.server.errors import STATUS_BY_CODE
from pyqueue.server.visitor import ROOM_STATUS_ROUTE
from tests.helpers.api import ADMIN, bearer, make_settings, start_api

PAGE_PREFIXES = ("/rooms/", "/pyqueue/static/")


async def test_healthz_and_readyz(aiohttp_client):
    api = await start_api(aiohttp_client)
    _, body = await api.json("GET", "/healthz", 200)
    assert body == {"status": "ok"}
    _, body = await api.json("GET", "/readyz", 200)
    assert body["status"] == "ready" and all(body["checks"].values())
    api.state.shutting_down = True
    _, body = await api.json("GET", "/readyz", 503)
    assert body["status"] == "not_ready" and body["checks"]["not_shutting_down"] is False


async def test_metrics(aiohttp_client):
    api = await start_api(aiohttp_client)
    joined = await api.join()
    await api.join(identity="x")
    await api.json("GET", "/v1/rooms/kiel/status", 401)
    await api.status(joined["ticket"])
    # The two hot routes count themselves; their refusals are counted like everyone's.
    await api.json("GET", "/v1/check", 400)
    await api.json("GET", "/v1/check?room=kiel", 401)
    response = await api.client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    expected = [
        'pyqueue_http_requests_total{route="POST /v1/rooms/{room}/join",status="201"} 2.0',
        'pyqueue_http_requests_total{route="GET /v1/rooms/{room}/status",status="401"} 1.0',
        'pyqueue_http_requests_total{route="GET /v1/rooms/{room}/status",status="200"} 1.0',
        'pyqueue_http_requests_total{route="GET /v1/check",status="400"} 1.0',
        'pyqueue_http_requests_total{route="GET /v1/check",status="401"} 1.0',
        'pyqueue_joins_total{new="true",room="kiel"} 2.0',
        'pyqueue_token_failures_total{kind="token_missing"} 2.0',
        'pyqueue_queue_length{room="kiel"} 2.0',
        'pyqueue_admitted_total{room="kiel"} 0.0',
        'pyqueue_wait_estimate_seconds{room="kiel"}',
        "pyqueue_holds_total",
        "pyqueue_bookings_total",
        "process_cpu_seconds_total",
    ]
    for line in expected:
        assert line in text, line
    await api.open()
    await api.advance(1)
    text = await (await api.client.get("/metrics")).text()
    assert 'pyqueue_admitted_total{room="kiel"} 2.0' in text
    assert 'pyqueue_queue_length{room="kiel"} 0.0' in text


async def test_unknown_paths_and_methods_answer_json(aiohttp_client):
    api = await start_api(aiohttp_client)
    _, body = await api.json("GET", "/nothing/here", 404)
    assert body["error"]["code"] == "not_found"
    response, body = await api.json("DELETE", "/v1/rooms/kiel/join", 405)
    assert body["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"
    response, body = await api.json("PUT", "/v1/rooms/kiel", 405)
    assert "GET" in response.headers["Allow"]
    _, body = await api.json("POST", "/metrics", 405)


async def test_an_internal_error_is_a_json_500_and_logged(aiohttp_client, caplog):
    class Broken(MemoryBackend):
        async def room_info(self, room: str) -> Any:
            raise RuntimeError("disk on fire")

        def status_poll(self, room: str, ticket: str, cap_ms: int, random: float) -> Any:
            raise RuntimeError("disk on fire")

    settings = make_settings()
    backend = Broken.from_settings(settings)
    api = await start_api(aiohttp_client, backend=backend)
    ticket = (await api.join())["ticket"]
    # A route behind the common wrapper, and the status poll, which answers its own errors.
    for path, headers in (
        ("/v1/rooms/kiel", {}),
        ("/v1/rooms/kiel/status", {"Authorization": f"Bearer {ticket}"}),
    ):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="pyqueue.server"):
            _, body = await api.json("GET", path, 500, headers=headers)
        assert body["error"]["code"] == "internal"
        assert "disk on fire" not in body["error"]["message"]
        assert any("request failed" in r.getMessage() for r in caplog.records)
    # Counted like any answer (the metrics page itself needs room_info, broken here).
    assert api.state.metrics.requests[("GET /v1/rooms/{room}/status", 500)] == 1


async def test_an_unavailable_backend_is_503(aiohttp_client):
    class Down(MemoryBackend):
        async def status(self, room: str, ticket: str) -> Any:
            raise BackendUnavailable("redis is down")

        def status_poll(self, room: str, ticket: str, cap_ms: int, random: float) -> Any:
            raise BackendUnavailable("redis is down")

        async def ready(self) -> bool:
            return False

    backend = Down.from_settings(make_settings())
    api = await start_api(aiohttp_client, backend=backend)
    response, body = await api.json("GET", "/v1/rooms/kiel/status", 503, headers=bearer("a.b.c"))
    assert body["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"] == "2"
    _, body = await api.json("GET", "/readyz", 503)
    assert body["checks"]["backend"] is False


async def test_openapi_describes_exactly_the_routes(aiohttp_client):
    api = await start_api(aiohttp_client)
    _, document = await api.json("GET", "/openapi.json", 200)
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (route.method, route.resource.canonical)
        for route in api.client.app.router.routes()
        if route.method not in ("HEAD", "*")
        and route.resource is not None
        # A room's own status route is the documented pattern, found faster.
        and not (route.name or "").startswith(ROOM_STATUS_ROUTE)
    }
    # The HTML pages for browsers are not part of the API the document describes.
    # `/` is the front page: it sends a browser to the room's page (or lists the rooms).
    pages = {
        (method, path) for method, path in served if path.startswith(PAGE_PREFIXES) or path == "/"
    }
    assert documented == served - pages
    assert not any(path.startswith(PAGE_PREFIXES) for _, path in documented)
    assert ("GET", "/v1/admin/clock") in documented


async def test_openapi_without_the_clock(aiohttp_client):
    api = await start_api(aiohttp_client, virtual_clock_routes=False)
    _, document = await api.json("GET", "/openapi.json", 200)
    assert "/v1/admin/clock" not in document["paths"]
    served = {r.resource.canonical for r in api.client.app.router.routes()}
    assert "/v1/admin/clock" not in served


def test_openapi_references_resolve_and_errors_are_known():
    document = openapi_document(virtual_clock=True)
    schemas = document["components"]["schemas"]
    text = repr(document)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in schemas, name
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], (method, path)
            assert operation["operationId"]
            for status in operation["responses"]:
                assert status.isdigit()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert set(schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"]) == set(
        STATUS_BY_CODE
    )


async def test_configured_rooms_have_a_status_route_of_their_own(aiohttp_client):
    api = await start_api(aiohttp_client)
    names = {route.name for route in api.client.app.router.routes()}
    assert ROOM_STATUS_ROUTE + "kiel" in names
    joined = await api.join()
    assert (await api.status(joined["ticket"]))["room"] == "kiel"
    # A room created later is served by the pattern; both count as one route in the metrics.
    await api.json(
        "PUT",
        "/v1/admin/rooms/husum",
        201,
        headers=ADMIN,
        json={"opens_at": "2021-05-10T07:00:00+02:00"},
    )
    other = await api.join("husum")
    assert (await api.status(other["ticket"], "husum"))["room"] == "husum"
    text = await (await api.client.get("/metrics")).text()
    assert 'route="GET /v1/rooms/{room}/status",status="200"} 2.0' in text


async def test_state_is_shared_under_an_app_key(aiohttp_client):
    api = await start_api(aiohttp_client)
    state = api.client.app[STATE]
    assert state.backend is api.backend
    assert "kiel" in state.rooms


async def test_admin_headers_fixture_is_valid(aiohttp_client):
    api = await start_api(aiohttp_client)
    await api.json("GET", "/v1/admin/rooms", 200, headers=ADMIN)
