"""Booking codes cannot be farmed: look-ups and cancels by code, on the API and on the pages,
meet a per-address limit (429 with ``Retry-After``: JSON on the API, the error page on pages),
failed look-ups are counted in ``/metrics``, and the addresses stay in the process's memory,
never in Redis. On the memory backend and on a real Redis."""

from __future__ import annotations

from typing import Any

import redis

from pyqueue.server.state import STATE
from pyqueue.server.ticker import prune_limiter
from tests.page_support import ClientFactory, Site, make_site, room

#: One try per 100 minutes after the burst: nothing refills while a test runs.
LIMITS = {"code_rate_per_minute": 0.01, "code_rate_burst": 3}
GUESS = "AB12C-DE34F"


async def guarded_site(aiohttp_client: ClientFactory, url: str, **server: Any) -> Site:
    settings = {**LIMITS, "trusted_proxy_header": "X-Forwarded-For", **server}
    return await make_site(aiohttp_client, [room()], backend=url, **settings)


def address(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def api_call(site: Site, method: str, path: str, ip: str) -> tuple[int, Any, Any]:
    async with site.client.request(method, path, headers=address(ip)) as response:
        return response.status, response.headers, await response.json()


async def metric_lines(site: Site) -> list[str]:
    async with site.client.get("/metrics") as response:
        return (await response.text()).splitlines()


async def test_guessing_codes_on_the_api_meets_429_and_failures_are_counted(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await guarded_site(aiohttp_client, backend_url)
    lookup, cancel = f"/v1/rooms/kiel/bookings/{GUESS}", f"/v1/rooms/kiel/bookings/{GUESS}/cancel"
    for path, method in ((lookup, "GET"), (lookup, "GET"), (cancel, "POST")):
        status, _, body = await api_call(site, method, path, "203.0.113.7")
        assert (status, body["error"]["code"]) == (404, "unknown_booking")
    for path, method in ((lookup, "GET"), (cancel, "POST")):
        status, headers, body = await api_call(site, method, path, "203.0.113.7")
        assert (status, body["error"]["code"]) == (429, "rate_limited")
        assert int(headers["Retry-After"]) >= 1
    # Another address has its own bucket.
    status, _, _ = await api_call(site, "GET", lookup, "198.51.100.1")
    assert status == 404
    lines = await metric_lines(site)
    assert 'pyqueue_booking_code_lookups_failed_total{room="kiel"} 4.0' in lines
    assert "pyqueue_booking_code_rate_limited_total 2.0" in lines
    if backend_url != "memory":
        with redis.Redis.from_url(backend_url) as client:
            for key in client.scan_iter():
                assert b"203.0.113.7" not in key + (client.dump(key) or b""), key


async def test_guessing_codes_on_the_pages_meets_the_429_page(
    aiohttp_client: ClientFactory,
) -> None:
    site = await guarded_site(aiohttp_client, "memory")
    visitor = site.visitor(lang="en")
    ip = address("203.0.113.8")
    for _ in range(2):
        page = await visitor.get(f"/rooms/kiel/cancel?code={GUESS}", headers=ip)
        assert page.status == 404 and "No booking with this code was found" in page.text
    page = await visitor.get(f"/rooms/kiel/bookings/{GUESS}", headers=ip)
    assert page.status == 404 and "No booking with this code was found" in page.text
    for refused in (
        await visitor.get(f"/rooms/kiel/cancel?code={GUESS}", headers=ip),
        await visitor.post("/rooms/kiel/cancel", {"code": GUESS}, headers=ip),
        await visitor.get(f"/rooms/kiel/bookings/{GUESS}", headers=ip),
    ):
        assert refused.status == 429
        assert refused.headers["Content-Type"].startswith("text/html")
        assert int(refused.headers["Retry-After"]) >= 1
        assert "Too many requests came from your connection" in refused.text
    # The form without a code looks nothing up and stays open.
    assert (await visitor.get("/rooms/kiel/cancel", headers=ip)).status == 200
    assert 'pyqueue_booking_code_lookups_failed_total{room="kiel"} 3.0' in await metric_lines(site)


async def test_the_code_limit_is_pruned_and_can_be_turned_off(
    aiohttp_client: ClientFactory,
) -> None:
    site = await guarded_site(aiohttp_client, "memory", code_rate_per_minute=0)
    for _ in range(10):
        status, _, _ = await api_call(site, "GET", f"/v1/rooms/kiel/bookings/{GUESS}", "192.0.2.1")
        assert status == 404
    limited = await guarded_site(aiohttp_client, "memory")
    state = limited.app[STATE]
    await api_call(limited, "GET", f"/v1/rooms/kiel/bookings/{GUESS}", "192.0.2.1")
    assert len(state.code_limiter) == 1
    state.code_limiter._clock = lambda: 1e12  # long after: the bucket is full again
    await prune_limiter(state)
    assert len(state.code_limiter) == 0
