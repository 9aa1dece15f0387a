"""The sidecar check for reverse proxies: 204 with a valid pass, else 401 and where to go."""

from __future__ import annotations

from typing import Any

import pyqueue
from pyqueue.backends.memory import MemoryBackend
from tests.helpers.api import SECRET, Api, bearer, make_settings, room_table, start_api


class CountingBackend(MemoryBackend):
    """Counts every call made through the Backend protocol after start-up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if not name.startswith("_") and callable(value) and name not in ("calls", "now"):
            super().__getattribute__("calls").append(name)
        return value


async def admitted(aiohttp_client: Any, **server: Any) -> tuple[Api, dict[str, Any]]:
    api = await start_api(aiohttp_client, [room_table("kiel"), room_table("husum")], **server)
    await api.open()
    visitor = await api.admitted_pass()
    return api, visitor


async def test_a_valid_pass_passes_by_cookie_bearer_or_header(aiohttp_client):
    api, visitor = await admitted(aiohttp_client)
    for headers in (
        {"Cookie": f"other=1; pyqueue_pass_kiel={visitor['pass']}; more=2"},
        bearer(visitor["pass"]),
        {"X-Pyqueue-Pass": visitor["pass"]},
    ):
        response = await api.client.get("/v1/check?room=kiel", headers=headers)
        assert response.status == 204, headers
        assert response.headers["X-Pyqueue-Ticket"] == str(visitor["ticket_id"])


async def test_without_a_valid_pass_the_answer_says_where_to_wait(aiohttp_client):
    api, visitor = await admitted(aiohttp_client)
    signer = pyqueue.Signer({"k1": SECRET})
    cases = [
        ({}, "token_missing"),
        ({"Cookie": "pyqueue_pass_kielx=abc"}, "token_missing"),
        ({"Cookie": "pyqueue_pass_kiel=garbage"}, "token_malformed"),
        (bearer(visitor["ticket"]), "token_wrong_kind"),
        ({"X-Pyqueue-Pass": signer.sign("pass", "husum", 1, 0, 2_000_000_000)}, "token_wrong_room"),
        (
            {"X-Pyqueue-Pass": pyqueue.Signer({"k2": SECRET}).sign("pass", "kiel", 1, 0, 2**31)},
            "token_unknown_key",
        ),
    ]
    for headers, code in cases:
        response, body = await api.json("GET", "/v1/check?room=kiel", 401, headers=headers)
        assert body["error"]["code"] == code, headers
        assert response.headers["Location"] == "/rooms/kiel"
        assert response.headers["X-Pyqueue-Location"] == "/rooms/kiel"
        assert body["error"]["location"] == "/rooms/kiel"


async def test_an_expired_pass_is_sent_back(aiohttp_client):
    api, visitor = await admitted(aiohttp_client)
    api.clock.advance(901)
    _, body = await api.json("GET", "/v1/check?room=kiel", 401, headers=bearer(visitor["pass"]))
    assert body["error"]["code"] == "token_expired"


async def test_location_uses_the_public_url_and_quotes_unknown_rooms(aiohttp_client):
    api, _ = await admitted(aiohttp_client, public_url="https://impfen.example/")
    response, _ = await api.json("GET", "/v1/check?room=kiel", 401)
    assert response.headers["Location"] == "https://impfen.example/rooms/kiel"
    response, _ = await api.json("GET", "/v1/check?room=a%0d%0ab", 401)
    assert response.headers["Location"] == "https://impfen.example/rooms/a%0D%0Ab"


async def test_room_is_required(aiohttp_client):
    api, _ = await admitted(aiohttp_client)
    for query in ("", "?room=", "?room=" + "x" * 65):
        _, body = await api.json("GET", "/v1/check" + query, 400)
        assert body["error"]["code"] == "invalid_argument"


async def test_failures_are_counted_by_kind(aiohttp_client):
    api, _ = await admitted(aiohttp_client)
    await api.json("GET", "/v1/check?room=kiel", 401)
    await api.json("GET", "/v1/check?room=kiel", 401, headers=bearer("nonsense"))
    response = await api.client.get("/metrics")
    text = await response.text()
    assert 'pyqueue_token_failures_total{kind="token_missing"} 1.0' in text
    assert 'pyqueue_token_failures_total{kind="token_malformed"} 1.0' in text


async def test_the_check_reads_no_state(aiohttp_client):
    clock = pyqueue.VirtualClock("2021-05-10T05:00:00Z")
    settings = make_settings()
    backend = CountingBackend(settings.server.signer(), clock)
    await backend.create_room(settings.rooms[0].config, "test")
    api = await start_api(aiohttp_client, backend=backend)
    api.clock = clock
    await api.advance(1)
    visitor = await api.admitted_pass()
    backend.calls.clear()
    for headers in ({"Cookie": f"pyqueue_pass_kiel={visitor['pass']}"}, {}):
        await api.client.get("/v1/check?room=kiel", headers=headers)
    assert backend.calls == []
