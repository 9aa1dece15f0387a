"""Proof of work on join (ALTCHA), over HTTP on both backends.

The ``altcha`` library is the independent implementation here: it solves the server's
challenges, checks their signatures with the key derived as the README says, and makes the
forged and expired ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import altcha
import pytest

import pyqueue
from pyqueue.backends.redis_backend import RedisBackend
from tests.helpers.api import ADMIN, OPENS_AT, SECRET, START, Api, room_table, start_api
from tests.page_support import make_site
from tests.page_support import room as page_room
from tests.redis_fixtures import SIGNER_KEYS, new_backend, redis_url  # noqa: F401 (a fixture)

#: The documented minimum difficulty, and the difficulty of these tests: the work is real
#: (5,000 hashes on average per join), not a token gesture.
FLOOR = 10_000
#: The challenge key of token key ``k1``, derived from its secret as the README documents.
CHALLENGE_KEY = hmac.new(SECRET.encode(), b"pyqueue challenge key v1", hashlib.sha256).hexdigest()
JOIN = "/v1/rooms/kiel/join"


def settings(**overrides: Any) -> dict[str, Any]:
    table = room_table("kiel", challenge_max_number=FLOOR, **overrides)
    table.pop("id")
    return table


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def api(request: pytest.FixtureRequest, aiohttp_client: Any) -> AsyncIterator[Api]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    clock = pyqueue.VirtualClock(START)
    backend = new_backend(request.param, clock, url)
    api = await start_api(aiohttp_client, [], backend=backend)
    api.clock = clock
    await api.json("PUT", "/v1/admin/rooms/kiel", 201, headers=ADMIN, json=settings())
    yield api


def solve(challenge: dict[str, Any], number: int | None = None) -> str:
    """The payload a client sends: ALTCHA's solution, base64 of its JSON."""
    if number is None:
        found = altcha.solve_challenge_v1(
            challenge["challenge"],
            challenge["salt"],
            challenge["algorithm"],
            challenge["maxnumber"],
        )
        assert found is not None
        number = found.number
    solution = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**solution, "number": number}).encode()).decode()


async def refused(api: Api, body: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    """Joins without cookies; asserts the refusal and returns the fresh challenge it carries."""
    api.client.session.cookie_jar.clear()
    _, answer = await api.json("POST", JOIN, status, json=body)
    assert answer["error"]["code"] == code, answer
    challenge: dict[str, Any] = answer["error"]["challenge"]
    return challenge


async def a_challenge(api: Api) -> dict[str, Any]:
    return await refused(api, {}, 428, "challenge_required")


async def test_a_join_without_a_solution_gets_a_signed_short_lived_challenge(api: Api) -> None:
    challenge = await a_challenge(api)
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxnumber"] == FLOOR
    expires = int(challenge["salt"].split("expires=")[1].split("&")[0])
    now = int(api.clock.timestamp())
    assert expires == now + 300
    assert "&room=kiel&kid=k1&" in challenge["salt"]
    # The independent library accepts the signature under the documented key.
    payload = solve(challenge)
    assert altcha.verify_solution_v1(payload, CHALLENGE_KEY, check_expires=False) == (True, None)
    _, info = await api.json("GET", "/v1/rooms/kiel", 200)
    assert info["waiting"] == 0, "a refused join took a place"


async def test_a_solution_joins_once(api: Api) -> None:
    payload = solve(await a_challenge(api))
    _, joined = await api.json("POST", JOIN, 201, json={"challenge": payload})
    assert joined["state"] == "prequeue"
    # Its holder comes back (reload, cookie) without new work, to the same place.
    _, again = await api.json("POST", JOIN, 200)
    assert again["ticket_id"] == joined["ticket_id"]
    _, again = await api.json(
        "POST", JOIN, 200, headers={"Authorization": f"Bearer {joined['ticket']}"}
    )
    assert again["ticket_id"] == joined["ticket_id"]
    # Anyone else sending the same solution is refused, and told what to solve instead.
    fresh = await refused(api, {"challenge": payload}, 409, "challenge_replayed")
    assert fresh["challenge"] != json.loads(base64.b64decode(payload))["challenge"]
    _, other = await api.json("POST", JOIN, 201, json={"challenge": solve(fresh)})
    assert other["ticket_id"] != joined["ticket_id"]
    metrics = await (await api.client.get("/metrics")).text()
    assert "pyqueue_challenges_solved_total 2.0" in metrics
    assert 'pyqueue_challenge_refusals_total{code="challenge_replayed"} 1.0' in metrics


async def test_each_bad_solution_is_refused_with_its_code(api: Api) -> None:
    challenge = await a_challenge(api)
    now = datetime.fromtimestamp(api.clock.timestamp(), UTC)
    params = {"room": "kiel", "kid": "k1"}
    forged = altcha.create_challenge_v1(
        altcha.ChallengeOptionsV1(
            hmac_key="not-the-server-key",
            max_number=FLOOR,
            expires=now + timedelta(minutes=5),
            params=params,
        )
    ).to_dict()
    forged["maxnumber"] = forged.pop("maxNumber")
    await refused(api, {"challenge": solve(forged)}, 403, "challenge_bad_signature")
    right = solve(challenge)
    number = json.loads(base64.b64decode(right))["number"]
    await refused(api, {"challenge": solve(challenge, number + 1)}, 403, "challenge_unsolved")
    for junk in ["not base64!", base64.b64encode(b"[1, 2]").decode(), 12, "x" * 5000]:
        await refused(api, {"challenge": junk}, 400, "challenge_malformed")
    missing = base64.b64encode(json.dumps({"algorithm": "SHA-256"}).encode()).decode()
    await refused(api, {"challenge": missing}, 400, "challenge_malformed")
    # A solution in the query string is refused, not looked at (it would end up in logs).
    api.client.session.cookie_jar.clear()
    _, answer = await api.json("POST", JOIN + "?challenge=" + right, 400, json={})
    assert answer["error"]["message"] == "unknown query parameter(s): challenge"
    # Another room's challenge, solved, does not open this one.
    await api.json("PUT", "/v1/admin/rooms/husum", 201, headers=ADMIN, json=settings())
    api.client.session.cookie_jar.clear()
    _, answer = await api.json("POST", "/v1/rooms/husum/join", 403, json={"challenge": right})
    assert answer["error"]["code"] == "challenge_wrong_room"
    assert "room=husum" in answer["error"]["challenge"]["salt"]
    # None of the refusals spent it: it still joins, once.
    api.client.session.cookie_jar.clear()
    await api.json("POST", JOIN, 201, json={"challenge": right})
    # Five minutes later the challenge has expired, however well it was solved.
    api.clock.advance(300)
    await refused(api, {"challenge": right}, 410, "challenge_expired")
    # So has one the library made with the right key and a past expiry.
    stale = altcha.create_challenge_v1(
        altcha.ChallengeOptionsV1(
            hmac_key=CHALLENGE_KEY,
            max_number=FLOOR,
            expires=now - timedelta(seconds=1),
            params=params,
        )
    ).to_dict()
    stale["maxnumber"] = stale.pop("maxNumber")
    await refused(api, {"challenge": solve(stale)}, 410, "challenge_expired")


async def test_a_room_without_the_challenge_asks_for_none(api: Api) -> None:
    await api.json(
        "PATCH", "/v1/admin/rooms/kiel", 200, headers=ADMIN, json={"challenge_max_number": 0}
    )
    api.client.session.cookie_jar.clear()
    await api.json("POST", JOIN, 201, json={})


async def test_the_difficulty_has_a_floor(api: Api) -> None:
    for value in (1, FLOOR - 1, 10_000_001):
        _, answer = await api.json(
            "PATCH",
            "/v1/admin/rooms/kiel",
            400,
            headers=ADMIN,
            json={"challenge_max_number": value},
        )
        assert answer["error"]["message"].endswith(
            f"challenge_max_number must be 0 (off) or between {FLOOR} and 10000000, got {value}"
        )
    rule = pyqueue.input_rules()["challenge_max_number"]
    assert rule.maximum == 10_000_000


@pytest.mark.redis
async def test_a_solution_is_spent_for_every_process_on_the_same_redis(
    aiohttp_client: Any, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url")
    clock = pyqueue.VirtualClock(START)
    first = await start_api(aiohttp_client, [], backend=new_backend("redis", clock, url))
    first.clock = clock
    await first.json("PUT", "/v1/admin/rooms/kiel", 201, headers=ADMIN, json=settings())
    # A second process: its own backend and server on the same Redis (not emptied).
    other = RedisBackend(url, pyqueue.Signer(SIGNER_KEYS), clock, refresh_seconds=0.0)
    second = await start_api(aiohttp_client, [], backend=other)
    second.clock = clock
    payload = solve(await a_challenge(first))
    await second.json("POST", JOIN, 201, json={"challenge": payload})
    await refused(first, {"challenge": payload}, 409, "challenge_replayed")
    await refused(second, {"challenge": payload}, 409, "challenge_replayed")


def test_the_core_and_the_library_agree_on_the_key() -> None:
    """What the tests above rely on: the server's key derivation is the documented one."""
    signer = pyqueue.Signer({"k1": SECRET})
    challenge = pyqueue.new_challenge(signer, "kiel", FLOOR, int(OPENS_AT.timestamp()))
    assert altcha.verify_solution_v1(solve(challenge), CHALLENGE_KEY, check_expires=False) == (
        True,
        None,
    )
    assert (
        altcha.verify_solution_v1(solve(challenge), "another-key", check_expires=False)[0] is False
    )


# ----- the page's forms (the browser itself: tests/test_web_challenge.py) ----------------------


def _page_challenge(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="pq-challenge">(.*?)</script>', html)
    assert match, "no challenge on the page"
    challenge: dict[str, Any] = json.loads(match.group(1))["challenge"]
    return challenge


async def test_the_page_joins_only_with_a_solution(aiohttp_client: Any) -> None:
    site = await make_site(aiohttp_client, [page_room(challenge_max_number=FLOOR)])
    visitor = site.visitor("en-GB")
    page = await visitor.get("/rooms/kiel")
    assert page.view == "challenge" and "pyqueue_ticket_kiel" not in visitor.cookies
    assert page.has("<noscript>") and page.has("needs JavaScript")
    # A form sent without the work (no JavaScript, or a script of its own) gets no place.
    refused = await visitor.post("/rooms/kiel", {"challenge": "not base64!"})
    assert refused.status == 400 and refused.view == "challenge"
    assert refused.has("was not accepted") and "pyqueue_ticket_kiel" not in visitor.cookies
    challenge = _page_challenge(refused.text)
    joined = await visitor.follow(
        await visitor.post("/rooms/kiel", {"challenge": solve(challenge)})
    )
    assert joined.view == "prequeue" and "pyqueue_ticket_kiel" in visitor.cookies
    # A place that ended costs new work: "join again" leads back to a challenge.
    await visitor.api("POST", "/v1/rooms/kiel/leave")
    again = await visitor.follow(await visitor.post("/rooms/kiel/rejoin"))
    assert again.view == "challenge"
