"""The per-address join limit's defaults: sized for carrier-grade NAT (many people behind one
public address), and the client address never taken from a header unless one is configured."""

from __future__ import annotations

from typing import Any

from pyqueue.config import ServerSettings
from tests.helpers.api import start_api

#: People behind one carrier-grade NAT address who join in the minute a room opens.
CROWD_BEHIND_ONE_ADDRESS = 300


def test_the_limit_is_off_and_no_header_is_trusted_by_default() -> None:
    defaults = ServerSettings()
    assert defaults.join_rate_per_minute == 0
    assert defaults.trusted_proxy_header is None
    assert defaults.join_rate_burst >= 500


async def test_a_crowd_behind_one_address_joins_at_the_opening(aiohttp_client: Any) -> None:
    # The rate an operator turns on, as the README recommends; the burst as it comes.
    api = await start_api(aiohttp_client, join_rate_per_minute=300)
    for _ in range(CROWD_BEHIND_ONE_ADDRESS):
        await api.join()
    # Clients cannot pick their own address with a header nobody configured.
    for n in range(3):
        headers = {"X-Forwarded-For": f"10.0.0.{n}"}
        response = await api.client.post("/v1/rooms/kiel/join", json={}, headers=headers)
        api.client.session.cookie_jar.clear()
        assert response.status == 201
    _, info = await api.json("GET", "/v1/rooms/kiel", 200)
    assert info["waiting"] == CROWD_BEHIND_ONE_ADDRESS + 3


async def test_a_flood_from_one_address_meets_the_limit(aiohttp_client: Any) -> None:
    api = await start_api(aiohttp_client, join_rate_per_minute=300, join_rate_burst=5)
    statuses = []
    for _ in range(8):
        response = await api.client.post("/v1/rooms/kiel/join", json={})
        api.client.session.cookie_jar.clear()
        statuses.append(response.status)
    assert statuses.count(201) == 5 and statuses.count(429) == 3
