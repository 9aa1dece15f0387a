"""Entry tokens (the portal's signed JWT) and passes bound to the person, on both backends.

Tokens are signed with PyJWT, an implementation independent of pyqueue's, so that what is
tested is the standard format, not pyqueue agreeing with itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import pyqueue
from pyqueue.backends import Backend
from pyqueue.backends.memory import MemoryBackend
from pyqueue.backends.redis_backend import RedisBackend
from tests.helpers.api import SERVICE, bearer, make_settings, room_table, start_api
from tests.redis_fixtures import SIGNER_KEYS, flush, redis_url  # noqa: F401 - fixture by name

OPENS_AT = datetime(2021, 5, 10, 5, 0, tzinfo=UTC)
NOW = int(OPENS_AT.timestamp())
ROOM = "kiel"

PORTAL_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


def raw_public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pem_public(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


#: Two keys of a rotation, one given raw (a JWK's x), one as PEM.
ENTRY_KEYS = {"portal-2": raw_public(PORTAL_KEY), "portal-1": pem_public(OTHER_KEY)}
HS_SECRET = "a-shared-entry-secret-of-32-bytes-or-more"


def entry(
    sub: str = "person-42",
    *,
    jti: str | None = None,
    aud: Any = ROOM,
    iat: int | None = None,
    lifetime: int = 300,
    kid: str = "portal-2",
    key: Any = PORTAL_KEY,
    algorithm: str = "EdDSA",
    drop: tuple[str, ...] = (),
) -> str:
    issued = NOW if iat is None else iat
    claims = {
        "aud": aud,
        "sub": sub,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": jti or f"{sub}-{issued}-{kid}-{lifetime}-{aud}",
    }
    for name in drop:
        claims.pop(name)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': 'portal-2'})}.{part(claims)}."


def failures() -> list[tuple[str, str]]:
    """(token, error code) for every way an entry token fails."""
    forged = entry("someone").split(".")
    forged[1] = entry("victim").split(".")[1]
    return [
        ("not-a-jwt", "entry_malformed"),
        (entry(drop=("jti",)), "entry_malformed"),
        (entry(drop=("iat",)), "entry_malformed"),
        (".".join(forged), "entry_bad_signature"),
        (entry(key=OTHER_KEY), "entry_bad_signature"),
        (entry(kid="portal-9"), "entry_unknown_key"),
        (entry(iat=NOW - 400), "entry_expired"),
        (entry(lifetime=3601), "entry_lifetime_too_long"),
        (entry(aud="husum"), "entry_wrong_audience"),
        (entry(key=HS_SECRET, algorithm="HS256"), "entry_wrong_algorithm"),
        (
            unsigned({"aud": ROOM, "sub": "x", "iat": NOW, "exp": NOW + 60, "jti": "n"}),
            "entry_wrong_algorithm",
        ),
    ]


# ----- backends -----------------------------------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Another = Callable[[], Awaitable[Backend]]


@pytest.fixture
async def backends(
    kind: str, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Backend, Another, pyqueue.VirtualClock]]:
    """A started backend with the entry room, a way to start another process's backend on the
    same state (the same one for memory: one process; one Redis for Redis), and the clock."""
    clock = pyqueue.VirtualClock(OPENS_AT)
    started: list[Backend] = []
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    if url is not None:
        flush(url)

    async def another() -> Backend:
        signer = pyqueue.Signer(SIGNER_KEYS)
        verifier = pyqueue.EntryVerifier(ENTRY_KEYS)
        if kind == "memory" and started:
            return started[0]
        backend: Backend
        if url is None:
            backend = MemoryBackend(signer, clock, entry=verifier)
        else:
            backend = RedisBackend(url, signer, clock, refresh_seconds=0.0, entry=verifier)
        await backend.start()
        started.append(backend)
        return backend

    first = await another()
    config = pyqueue.RoomConfig(
        ROOM, OPENS_AT - timedelta(minutes=1), identity="entry", max_active=100, seed=1
    )
    await first.create_room(config, "test")
    await first.tick(ROOM)
    try:
        yield first, another, clock
    finally:
        for backend in started:
            await backend.close()


async def test_every_failing_entry_token_is_refused_with_its_error(backends) -> None:
    backend, _, _ = backends
    for token, code in failures():
        with pytest.raises(pyqueue.EntryError) as caught:
            await backend.join(ROOM, None, None, token)
        assert caught.value.code == code, token
    assert (await backend.room_info(ROOM)).counters["joined"] == 0


async def test_an_entry_room_gives_no_place_without_an_entry_token(backends) -> None:
    backend, _, _ = backends
    with pytest.raises(pyqueue.EntryRequired):
        await backend.join(ROOM, None, None)
    assert (await backend.room_info(ROOM)).counters["joined"] == 0


async def test_a_jti_is_accepted_once_across_processes(backends) -> None:
    first, another, _ = backends
    second = await another()
    token = entry()
    await first.join(ROOM, None, None, token)
    with pytest.raises(pyqueue.EntryReplayed) as caught:
        await second.join(ROOM, None, None, token)
    assert caught.value.code == "entry_replayed"


async def test_a_new_entry_token_for_the_same_person_resumes_the_same_place(backends) -> None:
    first, another, clock = backends
    second = await another()
    phone = await first.join(ROOM, None, None, entry(jti="phone"))
    clock.advance(30)
    laptop = await second.join(ROOM, None, None, entry(jti="laptop", iat=NOW + 30))
    assert (laptop.id, laptop.new) == (phone.id, False)
    other = await first.join(ROOM, None, None, entry("person-43"))
    assert other.id != phone.id and other.new


async def test_a_pass_carries_the_person_and_ends_with_the_session(backends) -> None:
    backend, _, _ = backends
    ticket = await backend.join(ROOM, None, None, entry())
    status = await backend.status(ROOM, ticket.token)
    assert status.state == "admitted" and status.pass_token is not None
    pass_token = status.pass_token
    info = await backend.verify_pass(ROOM, pass_token)
    assert (info.ticket, info.sub) == (ticket.id, "person-42")
    check = backend.pass_checker()
    assert check(ROOM, pass_token, NOW) == ticket.id
    # The stateless check reads the person from the token too.
    signer = pyqueue.Signer(SIGNER_KEYS)
    assert signer.verify(pass_token, ROOM, "pass", NOW).sub == "person-42"

    await backend.complete(ROOM, pass_token)
    with pytest.raises(pyqueue.SessionEnded) as caught:
        await backend.verify_pass(ROOM, pass_token)
    assert caught.value.code == "session_ended"
    with pytest.raises(pyqueue.SessionEnded):
        check(ROOM, pass_token, NOW)


async def test_a_left_session_ends_for_every_process(backends) -> None:
    first, another, _ = backends
    second = await another()
    ticket = await first.join(ROOM, None, None, entry())
    pass_token = (await first.status(ROOM, ticket.token)).pass_token
    assert pass_token is not None
    await second.tick(ROOM)
    check = second.pass_checker()
    assert check(ROOM, pass_token, NOW) == ticket.id
    await first.leave(ROOM, ticket.token)  # by the ticket: the pass's time is read from the feed
    await second.tick(ROOM)  # what every process's ticker does
    with pytest.raises(pyqueue.SessionEnded):
        check(ROOM, pass_token, NOW)
    with pytest.raises(pyqueue.SessionEnded):
        await second.verify_pass(ROOM, pass_token)


@pytest.mark.redis
async def test_the_native_poll_of_an_admitted_visitor_gives_the_pass_with_the_person(
    redis_url: str,  # noqa: F811
) -> None:
    """The status poll's one native call checks the ticket once and answers an admitted
    visitor's status itself, its pass carrying the person, on both backends (Redis from a
    fresh cache)."""
    clock = pyqueue.VirtualClock(OPENS_AT)
    signer = pyqueue.Signer(SIGNER_KEYS)
    verifier = pyqueue.EntryVerifier(ENTRY_KEYS)
    flush(redis_url)
    memory = MemoryBackend(signer, clock, entry=verifier)
    redis = RedisBackend(redis_url, signer, clock, refresh_seconds=3600.0, entry=verifier)
    config = pyqueue.RoomConfig(
        ROOM, OPENS_AT - timedelta(minutes=1), identity="entry", max_active=100, seed=1
    )
    try:
        for backend in (memory, redis):
            await backend.start()
            await backend.create_room(config, "test")
            await backend.tick(ROOM)
            ticket = await backend.join(ROOM, None, None, entry())
            general = await backend.status(ROOM, ticket.token)  # fills Redis's cache
            body, _, status = backend.status_poll(ROOM, ticket.token, 40_000, 0.5)
            assert body is None and status is not None and status.state == "admitted"
            assert status.pass_token == general.pass_token
            assert signer.verify(status.pass_token, ROOM, "pass", NOW).sub == "person-42"
    finally:
        await redis.close()
        await memory.close()


# ----- the Python API ---------------------------------------------------------------------


def test_sign_entry_makes_standard_jwts_that_pyjwt_reads() -> None:
    private = PORTAL_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pyqueue.entry_public_key(private) == raw_public(PORTAL_KEY)
    token = pyqueue.sign_entry(private, "portal-2", ROOM, "person-42", lifetime_seconds=120)
    claims = jwt.decode(token, PORTAL_KEY.public_key(), algorithms=["EdDSA"], audience=ROOM)
    assert claims["sub"] == "person-42" and claims["exp"] - claims["iat"] == 120
    assert len(claims["jti"]) == 32
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "typ": "JWT", "kid": "portal-2"}
    hs = pyqueue.sign_entry(HS_SECRET, "s1", ROOM, "p", algorithm="HS256")
    assert jwt.decode(hs, HS_SECRET, algorithms=["HS256"], audience=ROOM)["sub"] == "p"
    verifier = pyqueue.EntryVerifier({"s1": HS_SECRET}, "HS256")
    assert verifier.accept(hs, ROOM).sub == "p"
    with pytest.raises(pyqueue.EntryReplayed):
        verifier.accept(hs, ROOM)


def test_entry_keys_are_refused_by_name() -> None:
    with pytest.raises(pyqueue.InvalidConfig, match=r"entry_keys\.k"):
        pyqueue.EntryVerifier({"k": "not-a-key"})
    with pytest.raises(pyqueue.InvalidConfig, match="entry_algorithm"):
        pyqueue.EntryVerifier(ENTRY_KEYS, "RS256")
    with pytest.raises(pyqueue.InvalidConfig, match="32 bytes"):
        pyqueue.EntryVerifier({"k": "short"}, "HS256")


def test_room_passes_of_an_entry_room_carry_the_person() -> None:
    clock = pyqueue.VirtualClock(OPENS_AT)
    signer = pyqueue.Signer(SIGNER_KEYS)
    room = pyqueue.Room(pyqueue.RoomConfig(ROOM, OPENS_AT, identity="entry", seed=1), signer, clock)
    with pytest.raises(pyqueue.EntryRequired):
        room.join()
    # The portal's own code vouches for the identity it passes.
    ticket = room.join(identity="person-42")
    assert signer.verify(ticket.token, now=NOW).sub == "person-42"
    clock.advance(1)
    room.tick()
    pass_token = room.status(ticket.token).pass_token
    assert pass_token is not None
    assert room.verify_pass(pass_token).sub == "person-42"
    room.leave(pass_token)
    with pytest.raises(pyqueue.SessionEnded):
        room.verify_pass(pass_token)
    # In process and stateless (what pyqueue.verify_pass does, on the wall clock), the
    # signature alone speaks: it cannot know that the session ended.
    assert signer.verify(pass_token, ROOM, "pass", NOW).sub == "person-42"


# ----- HTTP ---------------------------------------------------------------------------------


async def entry_api(
    aiohttp_client: Any, kind: str, request: pytest.FixtureRequest, **kiel: Any
) -> Any:
    rooms = [room_table("kiel", identity="entry", **kiel), room_table("husum")]
    clock = pyqueue.VirtualClock(OPENS_AT - timedelta(hours=1))
    backend = None
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        flush(url)
        settings = make_settings(rooms, backend=url, entry_keys=ENTRY_KEYS)
        backend = RedisBackend.from_settings(settings, clock)
    api = await start_api(
        aiohttp_client, rooms, backend=backend, clock=clock, entry_keys=ENTRY_KEYS
    )
    await api.open()
    return api


async def test_http_join_takes_the_entry_token_in_the_body(aiohttp_client, kind, request) -> None:
    api = await entry_api(aiohttp_client, kind, request)
    statuses = {"entry_wrong_audience": 403}
    for token, code in failures():
        response, body = await api.json("POST", "/v1/rooms/kiel/join", json={"entry": token})
        assert (response.status, body["error"]["code"]) == (statuses.get(code, 401), code), token
    await api.advance(1)
    response, body = await api.json("POST", "/v1/rooms/kiel/join", 201, json={"entry": entry()})
    assert body["state"] == "admitted"
    api.client.session.cookie_jar.clear()
    _, again = await api.json("POST", "/v1/rooms/kiel/join", 409, json={"entry": entry()})
    assert again["error"]["code"] == "entry_replayed"
    # A second device with a new entry token for the same person: the same place.
    _, second = await api.json(
        "POST", "/v1/rooms/kiel/join", 200, json={"entry": entry(jti="second-device")}
    )
    assert second["ticket_id"] == body["ticket_id"]


async def test_http_inventing_identities_in_an_entry_room_gets_no_place(
    aiohttp_client, kind, request
) -> None:
    api = await entry_api(aiohttp_client, kind, request)
    for i in range(20):
        _, body = await api.json(
            "POST", "/v1/rooms/kiel/join", 401, json={"identity": f"made-up-{i}"}
        )
        assert body["error"]["code"] == "entry_required"
        _, body = await api.json("POST", "/v1/rooms/kiel/join", 401, json={})
        assert body["error"]["code"] == "entry_required"
        api.client.session.cookie_jar.clear()
    assert (await api.backend.room_info("kiel")).counters["joined"] == 0


async def test_http_verify_returns_the_person_and_a_finished_pass_fails(
    aiohttp_client, kind, request
) -> None:
    api = await entry_api(aiohttp_client, kind, request)
    await api.advance(1)
    _, joined = await api.json("POST", "/v1/rooms/kiel/join", 201, json={"entry": entry()})
    api.client.session.cookie_jar.clear()
    pass_token = joined["pass"]
    verify = {"pass": pass_token, "room": "kiel"}
    _, info = await api.json("POST", "/v1/handoff/verify", 200, json=verify, headers=SERVICE)
    assert (info["sub"], info["ticket_id"]) == ("person-42", joined["ticket_id"])
    await api.json("GET", "/v1/check?room=kiel", 204, headers=bearer(pass_token))
    await api.json("POST", "/v1/rooms/kiel/complete", 200, headers=bearer(pass_token))
    api.client.session.cookie_jar.clear()
    await api.tick()
    _, refused = await api.json("POST", "/v1/handoff/verify", 410, json=verify, headers=SERVICE)
    assert refused["error"]["code"] == "session_ended"
    _, refused = await api.json("GET", "/v1/check?room=kiel", 401, headers=bearer(pass_token))
    assert refused["error"]["code"] == "session_ended"

    # A plain room's pass names nobody, and leaving ends it too.
    _, plain = await api.json("POST", "/v1/rooms/husum/join", 201, json={})
    api.client.session.cookie_jar.clear()
    verify = {"pass": plain["pass"], "room": "husum"}
    _, info = await api.json("POST", "/v1/handoff/verify", 200, json=verify, headers=SERVICE)
    assert info["sub"] is None
    await api.json("POST", "/v1/rooms/husum/leave", 200, headers=bearer(plain["ticket"]))
    await api.tick()
    _, refused = await api.json("GET", "/v1/check?room=husum", 401, headers=bearer(plain["pass"]))
    assert refused["error"]["code"] == "session_ended"


async def test_http_a_stale_ticket_cookie_does_not_use_up_the_entry_token(
    aiohttp_client, kind, request
) -> None:
    """A browser with the cookie of another deployment gets a new place with its entry token:
    the refused cookie must not have used the token up before the join without it."""
    api = await entry_api(aiohttp_client, kind, request)
    await api.advance(1)
    other = pyqueue.Signer({"k9": "another-deployments-secret-of-32-bytes"})
    stale = other.sign("ticket", "kiel", 0, NOW, NOW + 3600)
    api.client.session.cookie_jar.update_cookies({"pyqueue_ticket_kiel": stale})
    _, joined = await api.json("POST", "/v1/rooms/kiel/join", 201, json={"entry": entry()})
    assert joined["state"] == "admitted"


async def test_http_an_entry_room_with_proof_of_work_checks_the_token_first(
    aiohttp_client, kind, request
) -> None:
    from tests.test_challenge import FLOOR, solve

    api = await entry_api(aiohttp_client, kind, request, challenge_max_number=FLOOR)
    await api.advance(1)
    join = "/v1/rooms/kiel/join"
    # No token, a typed identity, a forged token: refused as such, no work asked.
    for body, status, code in [
        ({}, 401, "entry_required"),
        ({"identity": "REG-4711"}, 401, "entry_required"),
        ({"entry": failures()[3][0]}, 401, "entry_bad_signature"),
        ({"entry": entry(aud="husum")}, 403, "entry_wrong_audience"),
    ]:
        _, refused = await api.json("POST", join, status, json=body)
        assert refused["error"]["code"] == code and "challenge" not in refused["error"]
    # A good token without the work: the challenge, and the token is not used up by it.
    token = entry()
    _, asked = await api.json("POST", join, 428, json={"entry": token})
    challenge = asked["error"]["challenge"]
    _, joined = await api.json(
        "POST", join, 201, json={"entry": token, "challenge": solve(challenge)}
    )
    assert joined["state"] == "admitted"
    # Its holder resumes without new work; the token itself was used up by the join.
    await api.json("POST", join, 200, headers=bearer(joined["ticket"]), json={})
    api.client.session.cookie_jar.clear()
    _, again = await api.json("POST", join, 428, json={"entry": token})
    _, replayed = await api.json(
        "POST", join, 409, json={"entry": token, "challenge": solve(again["error"]["challenge"])}
    )
    assert replayed["error"]["code"] == "entry_replayed"
    assert (await api.backend.room_info("kiel")).counters["joined"] == 1


# ----- the waiting-room page --------------------------------------------------------------


async def test_the_page_joins_with_the_portals_entry_token_only(aiohttp_client) -> None:
    from page_support import NOW as PAGE_NOW
    from page_support import make_site, room

    site = await make_site(aiohttp_client, [room(identity="entry")], entry_keys=ENTRY_KEYS)
    now = int(PAGE_NOW.timestamp())
    phone, laptop = site.visitor(lang="en"), site.visitor(lang="en")
    form = await phone.get("/rooms/kiel")
    assert form.view == "entry" and 'id="pq-entry-form"' in form.text
    assert "pyqueue_ticket_kiel" not in phone.cookies
    # A typed identity is no way in.
    typed = await phone.post("/rooms/kiel", {"identity": "REG-4711"})
    assert typed.status == 401 and typed.view == "entry"
    refused = await phone.post("/rooms/kiel", {"entry": entry(iat=now - 400)})
    assert refused.status == 401 and "expired or was used already" in refused.text
    # The portal's own page may post the form (no JavaScript needed).
    token = entry(iat=now)
    joined = await phone.post(
        "/rooms/kiel", {"entry": token}, headers={"Origin": "https://portal.example"}
    )
    assert joined.status == 303 and "pyqueue_ticket_kiel" in phone.cookies
    on_phone = await phone.follow(joined)
    replayed = await laptop.post("/rooms/kiel", {"entry": token})
    assert replayed.status == 401 and "pyqueue_ticket_kiel" not in laptop.cookies
    on_laptop = await laptop.follow(
        await laptop.post("/rooms/kiel", {"entry": entry(iat=now, jti="laptop")})
    )
    assert on_phone.data["status"]["ticket_id"] == on_laptop.data["status"]["ticket_id"]
    assert "another device signed in as you gets this same place" in on_laptop.text


async def test_the_page_of_an_entry_room_with_proof_of_work(aiohttp_client) -> None:
    from page_support import NOW as PAGE_NOW
    from page_support import make_site, room

    from tests.test_challenge import FLOOR, _page_challenge, solve

    site = await make_site(
        aiohttp_client,
        [room(identity="entry", challenge_max_number=FLOOR)],
        entry_keys=ENTRY_KEYS,
    )
    now = int(PAGE_NOW.timestamp())
    visitor = site.visitor(lang="en")
    assert (await visitor.get("/rooms/kiel")).view == "entry"
    # A refused token is refused before any work.
    refused = await visitor.post("/rooms/kiel", {"entry": entry(iat=now - 400)})
    assert refused.status == 401 and refused.view == "entry"
    # The portal's post of a good token: the challenge, with the token carried along.
    token = entry(iat=now)
    portal = {"Origin": "https://portal.example"}
    work = await visitor.post("/rooms/kiel", {"entry": token}, headers=portal)
    assert work.status == 200 and work.view == "challenge"
    assert 'name="entry" value="' + token + '"' in work.text
    assert "pyqueue_ticket_kiel" not in visitor.cookies
    solved = {"entry": token, "challenge": solve(_page_challenge(work.text))}
    joined = await visitor.post("/rooms/kiel", solved)
    assert joined.status == 303 and "pyqueue_ticket_kiel" in visitor.cookies
    assert (await visitor.follow(joined)).data["status"]["state"] in {"prequeue", "admitted"}


# ----- configuration ------------------------------------------------------------------------


def test_the_config_file_takes_pem_and_raw_keys_and_names_mistakes(tmp_path) -> None:
    from pyqueue.config import ConfigError, load_settings

    pem = pem_public(PORTAL_KEY)
    good = tmp_path / "good.toml"
    good.write_text(
        f'[server]\nsecrets = {{ k1 = "{"s" * 32}" }}\ndata_dir = ""\n'
        f'[server.entry_keys]\nportal-2 = """{pem}"""\nportal-1 = "{raw_public(OTHER_KEY)}"\n'
        f'[[rooms]]\nid = "kiel"\nopens_at = 2021-05-10T07:00:00+02:00\nidentity = "entry"\n'
    )
    verifier = load_settings(good, env={}).server.entry_verifier()
    assert verifier is not None and verifier.key_ids == ["portal-2", "portal-1"]
    assert verifier.verify(entry(), ROOM, NOW).sub == "person-42"
    assert verifier.verify(entry(kid="portal-1", key=OTHER_KEY), ROOM, NOW).sub == "person-42"

    def refusal(server: dict[str, Any], rooms: list[dict[str, Any]]) -> str:
        with pytest.raises(ConfigError) as caught:
            make_settings(rooms, **server)
        return str(caught.value)

    entry_room = [room_table("kiel", identity="entry")]
    assert "server.entry_keys" in refusal({}, entry_room)
    assert "server.entry_keys.k" in refusal({"entry_keys": {"k": "nope"}}, [])
    assert "server.entry_algorithm" in refusal({"entry_algorithm": "none"}, [])
    assert "32 bytes" in refusal({"entry_algorithm": "HS256", "entry_keys": {"k": "x"}}, [])
