"""Admin routes over HTTP: rooms, pause, queue-all, slot loads, releases, stats, audit, clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from tests.helpers.api import (
    ADMIN,
    OPENS_AT,
    bearer,
    room_table,
    slot_table,
    start_api,
)

ACTOR = {**ADMIN, "X-Pyqueue-Actor": "ops-anna"}


async def test_admin_token_is_required(aiohttp_client):
    api = await start_api(aiohttp_client)
    response, body = await api.json("GET", "/v1/admin/rooms", 401)
    assert body["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _, body = await api.json("GET", "/v1/admin/rooms", 401, headers=bearer("x" * 25))
    assert body["error"]["code"] == "unauthorized"
    _, body = await api.json("GET", "/v1/admin/rooms", 401, headers={"Authorization": "Basic x"})
    _, body = await api.json(
        "GET", "/v1/admin/rooms", 400, headers={**ADMIN, "X-Pyqueue-Actor": "a" * 65}
    )
    assert body["error"]["code"] == "invalid_argument"


async def test_admin_api_is_off_without_a_token(aiohttp_client):
    api = await start_api(aiohttp_client, admin_token=None)
    _, body = await api.json("GET", "/v1/admin/rooms", 403, headers=ADMIN)
    assert body["error"]["code"] == "forbidden"


async def test_list_and_get_rooms(aiohttp_client):
    api = await start_api(aiohttp_client, [room_table("kiel"), room_table("husum")])
    _, body = await api.json("GET", "/v1/admin/rooms", 200, headers=ADMIN)
    assert body == {"rooms": ["husum", "kiel"]}
    _, body = await api.json("GET", "/v1/admin/rooms/kiel", 200, headers=ADMIN)
    assert body["config"]["id"] == "kiel"
    assert body["config"]["opens_at"] == "2021-05-10T05:00:00+00:00"
    assert body["config"]["seed"] == 2021
    assert body["stats"]["state"] == "prequeue"
    _, body = await api.json("GET", "/v1/admin/rooms/nowhere", 404, headers=ADMIN)
    assert body["error"]["code"] == "unknown_room"


async def test_create_replace_and_change_a_room(aiohttp_client):
    api = await start_api(aiohttp_client)
    settings = {"opens_at": "2021-05-11T07:00:00+02:00", "admit_per_minute": 120, "max_active": 5}
    _, body = await api.json("PUT", "/v1/admin/rooms/husum", 201, headers=ACTOR, json=settings)
    assert body["created"] is True and body["config"]["admit_per_minute"] == 120
    joined = await api.join("husum")
    assert joined["state"] == "prequeue"
    _, body = await api.json(
        "PUT", "/v1/admin/rooms/husum", 200, headers=ACTOR, json={**settings, "max_active": 9}
    )
    assert body["created"] is False and body["config"]["max_active"] == 9
    _, body = await api.json(
        "PATCH", "/v1/admin/rooms/husum", 200, headers=ACTOR, json={"admit_per_minute": 900}
    )
    assert body["config"]["admit_per_minute"] == 900 and body["config"]["max_active"] == 9
    _, audit = await api.json("GET", "/v1/admin/rooms/husum/audit", 200, headers=ADMIN)
    assert [(e["action"], e["actor"]) for e in audit["entries"]] == [
        ("config", "ops-anna"),
        ("config", "ops-anna"),
    ]


async def test_room_settings_errors(aiohttp_client):
    api = await start_api(aiohttp_client)
    cases = [
        ("PUT", "/v1/admin/rooms/husum", {}, "invalid_config"),
        ("PUT", "/v1/admin/rooms/husum", {"opens_at": "tomorrow"}, "invalid_config"),
        ("PUT", "/v1/admin/rooms/husum", {"opens_at": "2021-05-11T07:00:00"}, "invalid_config"),
        (
            "PUT",
            "/v1/admin/rooms/husum",
            {"opens_at": "2021-05-11T07:00:00Z", "admit_per_minute": 0},
            "invalid_config",
        ),
        (
            "PUT",
            "/v1/admin/rooms/husum",
            {"opens_at": "2021-05-11T07:00:00Z", "max_active": 2**40},
            "invalid_config",
        ),
        (
            "PUT",
            "/v1/admin/rooms/husum",
            {"opens_at": "2021-05-11T07:00:00Z", "max_active": True},
            "invalid_config",
        ),
        (
            "PUT",
            "/v1/admin/rooms/husum",
            {"opens_at": "2021-05-11T07:00:00Z", "prequeue": "lottery"},
            "invalid_config",
        ),
        (
            "PUT",
            "/v1/admin/rooms/husum",
            {"opens_at": "2021-05-11T07:00:00Z", "colour": "red"},
            "invalid_config",
        ),
        (
            "PUT",
            "/v1/admin/rooms/husum",
            {"id": "kiel", "opens_at": "2021-05-11T07:00:00Z"},
            "invalid_config",
        ),
        ("PUT", "/v1/admin/rooms/bad%20id", {"opens_at": "2021-05-11T07:00:00Z"}, "invalid_config"),
        ("PATCH", "/v1/admin/rooms/kiel", {"timezone": "Mars/Olympus"}, "invalid_config"),
        ("PATCH", "/v1/admin/rooms/kiel", {"id": "other"}, "invalid_config"),
    ]
    for method, path, payload, code in cases:
        _, body = await api.json(method, path, 400, headers=ADMIN, json=payload)
        assert body["error"]["code"] == code, payload
    _, body = await api.json(
        "PATCH", "/v1/admin/rooms/nowhere", 404, headers=ADMIN, json={"max_active": 3}
    )
    assert body["error"]["code"] == "unknown_room"


async def test_opening_time_is_fixed_once_open(aiohttp_client):
    api = await start_api(aiohttp_client)
    await api.json("POST", "/v1/rooms/kiel/join", 201)
    await api.open()
    later = (OPENS_AT + timedelta(hours=1)).isoformat()
    _, body = await api.json(
        "PATCH", "/v1/admin/rooms/kiel", 400, headers=ADMIN, json={"opens_at": later}
    )
    assert body["error"]["code"] == "invalid_config"
    # The backend's refusal is one mistake, listed as every invalid_config lists them.
    assert body["error"]["problems"] == [body["error"]["message"]]


async def test_pause_resume_and_queue_all(aiohttp_client):
    api = await start_api(aiohttp_client)
    await api.open()
    _, body = await api.json("POST", "/v1/rooms/kiel/pause", 404)
    _, body = await api.json("POST", "/v1/admin/rooms/kiel/pause", 200, headers=ACTOR)
    assert body == {"room": "kiel", "paused": True}
    waiting = await api.join()
    assert waiting["state"] == "waiting" and waiting["paused"] is True
    await api.advance(5)
    assert (await api.status(waiting["ticket"]))["state"] == "waiting"
    _, info = await api.json("GET", "/v1/rooms/kiel", 200)
    assert info["state"] == "paused" and info["paused"] is True
    _, body = await api.json("POST", "/v1/admin/rooms/kiel/resume", 200, headers=ACTOR)
    assert body == {"room": "kiel", "paused": False}
    await api.advance(1)
    assert (await api.status(waiting["ticket"]))["state"] == "admitted"

    _, body = await api.json(
        "POST", "/v1/admin/rooms/kiel/queue-all", 200, headers=ACTOR, json={"on": True}
    )
    assert body == {"room": "kiel", "queue_all": True}
    assert (await api.join())["state"] == "waiting"
    _, body = await api.json(
        "POST", "/v1/admin/rooms/kiel/queue-all", 400, headers=ADMIN, json={"on": "yes"}
    )
    assert body["error"]["code"] == "invalid_argument"
    _, stats = await api.json("GET", "/v1/admin/rooms/kiel/stats", 200, headers=ADMIN)
    assert stats["queue_all"] is True and stats["waiting"] == 1
    _, audit = await api.json("GET", "/v1/admin/rooms/kiel/audit", 200, headers=ADMIN)
    assert [e["action"] for e in audit["entries"]] == ["pause", "resume", "queue_all_on"]
    assert {e["actor"] for e in audit["entries"]} == {"ops-anna"}
    for action in ("pause", "resume", "queue-all"):
        _, body = await api.json("POST", f"/v1/admin/rooms/nowhere/{action}", 404, headers=ADMIN)
        assert body["error"]["code"] == "unknown_room"


async def test_load_slots_as_json_and_csv(aiohttp_client):
    api = await start_api(aiohttp_client)
    _, body = await api.json(
        "POST", "/v1/admin/rooms/kiel/slots", 201, headers=ACTOR, json={"slots": slot_table(3)}
    )
    assert body == {"room": "kiel", "added": 3}
    csv = (
        "group,id,starts_at\n"
        "Husum 2021-05-12,h1,2021-05-12T08:00:00+02:00\n"
        "\n"
        '"Husum, Nord",h2,2021-05-12T08:10:00+02:00\n'
    )
    _, body = await api.json(
        "POST",
        "/v1/admin/rooms/kiel/slots",
        201,
        headers={**ADMIN, "Content-Type": "text/csv"},
        data=csv.encode(),
    )
    assert body["added"] == 2
    _, stats = await api.json("GET", "/v1/admin/rooms/kiel/stats", 200, headers=ADMIN)
    assert sorted(g["group"] for g in stats["groups"]) == [
        "Husum 2021-05-12",
        "Husum, Nord",
        "Kiel 2021-05-12",
    ]
    _, audit = await api.json("GET", "/v1/admin/rooms/kiel/audit", 200, headers=ADMIN)
    assert [(e["action"], e["count"]) for e in audit["entries"]] == [
        ("load_slots", 3),
        ("load_slots", 2),
    ]


async def test_load_slots_errors(aiohttp_client):
    api = await start_api(aiohttp_client, max_admin_body_bytes=2000)
    await api.json(
        "POST", "/v1/admin/rooms/kiel/slots", 201, headers=ADMIN, json={"slots": slot_table(2)}
    )
    csv = {**ADMIN, "Content-Type": "text/csv"}
    cases: list[tuple[dict[str, str], dict[str, Any], int, str]] = [
        (ADMIN, {"json": {"slots": slot_table(1)}}, 409, "duplicate_slot"),
        (ADMIN, {"json": {"slots": []}}, 400, "invalid_argument"),
        (ADMIN, {"json": {"slots": [{"id": "x"}]}}, 400, "invalid_argument"),
        (
            ADMIN,
            {"json": {"slots": [{"id": "x", "group": "g", "starts_at": "soon"}]}},
            400,
            "invalid_argument",
        ),
        (ADMIN, {"json": {"slots": "all"}}, 400, "invalid_argument"),
        (ADMIN, {"json": [1]}, 400, "invalid_argument"),
        (ADMIN, {"data": b"{oops"}, 400, "malformed_json"),
        (csv, {"data": b"id,group\nx,g\n"}, 400, "invalid_argument"),
        (csv, {"data": b""}, 400, "invalid_argument"),
        (csv, {"data": b"id,group,starts_at\nx,g\n"}, 400, "invalid_argument"),
        (
            csv,
            {"data": b"id,group,starts_at\n\xff,g,2021-05-12T08:00:00Z\n"},
            400,
            "invalid_argument",
        ),
        (
            {**ADMIN, "Content-Type": "application/xml"},
            {"data": b"<slots/>"},
            415,
            "unsupported_media_type",
        ),
        (ADMIN, {"json": {"slots": slot_table(40)}}, 413, "body_too_large"),
    ]
    for headers, kwargs, status, code in cases:
        _, body = await api.json(
            "POST", "/v1/admin/rooms/kiel/slots", status, headers=headers, **kwargs
        )
        assert body["error"]["code"] == code, kwargs
    _, body = await api.json(
        "POST", "/v1/admin/rooms/nowhere/slots", 404, headers=ADMIN, json={"slots": slot_table(1)}
    )
    assert body["error"]["code"] == "unknown_room"


async def test_release_is_window_guarded_and_audited(aiohttp_client):
    rooms = [
        room_table(release_windows=["Mon-Fri 07:00", "Mon-Fri 17:00"], timezone="Europe/Berlin")
    ]
    api = await start_api(aiohttp_client, rooms, slots={"kiel": slot_table(3)})
    await api.open()
    visitor = await api.admitted_pass()
    auth = bearer(visitor["pass"])
    await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/hold", 201, headers=auth)
    _, booked = await api.json("POST", "/v1/rooms/kiel/slots/g0-s0/confirm", 201, headers=auth)
    await api.json("POST", f"/v1/rooms/kiel/bookings/{booked['code']}/cancel", 200)
    _, body = await api.json("POST", "/v1/admin/rooms/kiel/release", 409, headers=ACTOR)
    assert body["error"]["code"] == "release_refused"
    # 07:00 has passed (opening), 17:00 Berlin is the next window.
    assert body["error"]["next_window"] == "2021-05-10T15:00:00Z"
    _, body = await api.json(
        "POST", "/v1/admin/rooms/kiel/release", 400, headers=ACTOR, json={"override": True}
    )
    assert body["error"]["code"] == "invalid_argument"
    _, body = await api.json(
        "POST",
        "/v1/admin/rooms/kiel/release",
        200,
        headers=ACTOR,
        json={"override": True, "reason": "centre asked for it"},
    )
    assert body == {"room": "kiel", "released": 1, "override": True}
    _, audit = await api.json("GET", "/v1/admin/rooms/kiel/audit", 200, headers=ADMIN)
    last = audit["entries"][-1]
    assert (last["action"], last["actor"], last["count"], last["reason"]) == (
        "release_override",
        "ops-anna",
        1,
        "centre asked for it",
    )
    assert last["at"].endswith("Z")
    for payload in ({"override": "yes"}, {"reason": 5}, {"when": "now"}):
        _, body = await api.json(
            "POST", "/v1/admin/rooms/kiel/release", 400, headers=ADMIN, json=payload
        )
        assert body["error"]["code"] == "invalid_argument"


async def test_stats_of_a_room(aiohttp_client):
    api = await start_api(aiohttp_client, slots={"kiel": slot_table(3)})
    for _ in range(3):
        await api.join()
    await api.open()
    _, stats = await api.json("GET", "/v1/admin/rooms/kiel/stats", 200, headers=ADMIN)
    assert stats["room"] == "kiel" and stats["max_active"] == 100
    assert stats["draw"]["seed"] == 2021 and stats["draw"]["size"] == 3
    assert stats["draw"]["mode"] == "shuffle"
    assert stats["groups"][0]["free"] == 3
    assert isinstance(stats["counters"], dict)
    for path in ("stats", "audit"):
        _, body = await api.json("GET", f"/v1/admin/rooms/nowhere/{path}", 404, headers=ADMIN)
        assert body["error"]["code"] == "unknown_room"


async def test_virtual_clock_routes(aiohttp_client):
    api = await start_api(aiohttp_client)
    await api.join()
    _, body = await api.json("GET", "/v1/admin/clock", 200, headers=ADMIN)
    assert body["now"] == "2021-05-10T04:00:00Z"
    _, body = await api.json(
        "POST", "/v1/admin/clock", 200, headers=ADMIN, json={"advance_seconds": 3600}
    )
    assert body["now"] == "2021-05-10T05:00:00Z"
    _, body = await api.json(
        "POST", "/v1/admin/clock", 200, headers=ADMIN, json={"set": "2021-05-10T07:30:00+02:00"}
    )
    assert body["now"] == "2021-05-10T05:30:00Z"
    for payload in (
        {},
        {"advance_seconds": -1},
        {"advance_seconds": "1"},
        {"advance_seconds": 1, "set": "2021-05-10T05:00:00Z"},
        {"set": 5},
        {"set": "2021-05-10T05:00:00Z"},  # backwards
        {"set": "noon"},
    ):
        _, body = await api.json("POST", "/v1/admin/clock", 400, headers=ADMIN, json=payload)
        assert body["error"]["code"] == "invalid_argument", payload
    _, body = await api.json("POST", "/v1/admin/clock", 401, json={"advance_seconds": 1})


async def test_no_clock_routes_without_a_virtual_clock(aiohttp_client):
    api = await start_api(aiohttp_client, virtual_clock_routes=False)
    _, body = await api.json("GET", "/v1/admin/clock", 404, headers=ADMIN)
    assert body["error"]["code"] == "not_found"


async def test_a_json_slot_load_may_start_with_a_byte_order_mark(aiohttp_client):
    """Editors on Windows save JSON with a UTF-8 BOM; the sniff looks past it and takes the
    body for JSON, so the JSON reading must look past it too, as the CSV reading does."""
    api = await start_api(aiohttp_client)
    for number, content_type in enumerate(("application/json", None)):
        slots = [{**slot, "id": f"bom{number}-{slot['id']}"} for slot in slot_table(2)]
        body = b"\xef\xbb\xbf" + orjson.dumps({"slots": slots})
        headers = {**ADMIN, "Content-Type": content_type} if content_type else ADMIN
        _, answer = await api.json(
            "POST", "/v1/admin/rooms/kiel/slots", 201, headers=headers, data=body
        )
        assert answer == {"room": "kiel", "added": 2}
