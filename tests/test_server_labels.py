"""A plain identity sent over HTTP is a label: it proves nothing (anyone who knows it can send
it), so it never hands out another client's ticket or pass and never locks anyone out; it is
kept beside the new ticket for the portal's own correlation. The Python API's ``identity`` is
one the portal's own code vouches for, and keeps deduplicating. Through the API and the page's
join form, on the memory backend and on a real Redis."""

from __future__ import annotations

from typing import Any

import redis

from pyqueue.backends.memory import MemoryBackend
from pyqueue.backends.redis_backend.keys import RoomKeys
from tests.page_support import ClientFactory, Site, make_site, room

JOIN = "/v1/rooms/kiel/join"


async def site_on(aiohttp_client: ClientFactory, url: str, **settings: Any) -> Site:
    return await make_site(aiohttp_client, [room(**settings)], backend=url)


def label_of(site: Site, url: str, ticket_id: int) -> str | None:
    """The label kept beside a ticket, where each backend keeps it."""
    if isinstance(site.backend, MemoryBackend):
        return site.backend._room("kiel").label(ticket_id)
    with redis.Redis.from_url(url) as client:
        value = client.hget(RoomKeys("kiel").labels, str(ticket_id))
    return None if value is None else value.decode()


async def assert_not_an_identity(site: Site, url: str, label: str) -> None:
    """The label is not in the identity index: a vouched join with it gets a new ticket."""
    if not isinstance(site.backend, MemoryBackend):
        with redis.Redis.from_url(url) as client:
            assert client.hlen(f"{RoomKeys('kiel').prefix}ids") == 0
    assert (await site.backend.join("kiel", label, None)).new


async def api_join(site: Site, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    """A join by an app without cookies; ``token`` resumes its own ticket."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with site.client.post(JOIN, json=body, headers=headers) as response:
        return response.status, await response.json()


async def status_of(site: Site, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with site.client.get("/v1/rooms/kiel/status", headers=headers) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def test_an_identity_sent_by_another_client_gets_no_token_and_locks_nobody_out(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await site_on(aiohttp_client, backend_url)
    code, owner = await api_join(site, {"identity": "REG-4711"})
    assert code == 201
    code, other = await api_join(site, {"identity": "REG-4711"})
    assert code == 201, "the identity handed out the existing place"
    assert other["ticket_id"] != owner["ticket_id"] and other["ticket"] != owner["ticket"]
    # The owner resumes with its own ticket, whatever identity it sends along.
    code, resumed = await api_join(site, {"identity": "someone-else"}, owner["ticket"])
    assert (code, resumed["ticket_id"]) == (200, owner["ticket_id"])

    await site.advance(600 + 5)  # the room opens, the draw is made, both are admitted
    owner_pass = (await status_of(site, owner["ticket"]))["pass"]
    assert owner_pass is not None
    headers = {"Authorization": f"Bearer {owner_pass}"}
    async with site.client.post("/v1/rooms/kiel/complete", headers=headers) as response:
        assert response.status == 200
    # Before, every later join with this identity answered "completed": locked out.
    code, later = await api_join(site, {"identity": "REG-4711"})
    assert code == 201 and later["state"] != "completed"
    assert later["ticket_id"] not in (owner["ticket_id"], other["ticket_id"])
    assert later["pass"] != owner_pass
    for joined in (owner, other, later):
        assert label_of(site, backend_url, joined["ticket_id"]) == "REG-4711"
    await assert_not_an_identity(site, backend_url, "REG-4711")


async def test_a_code_typed_into_the_page_is_a_label_and_one_place_per_browser(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await site_on(aiohttp_client, backend_url, identity="required")
    phone, stranger = site.visitor(), site.visitor()
    on_phone = await phone.follow(await phone.post("/rooms/kiel", {"identity": "REG-4711"}))
    on_stranger = await stranger.follow(
        await stranger.post("/rooms/kiel", {"identity": "REG-4711"})
    )
    assert on_phone.view == on_stranger.view == "prequeue"
    phone_ticket = on_phone.data["status"]["ticket_id"]
    assert on_stranger.data["status"]["ticket_id"] != phone_ticket
    # The phone keeps its own place on reload and on sending the form again.
    again = await phone.follow(await phone.post("/rooms/kiel", {"identity": "REG-0815"}))
    assert again.data["status"]["ticket_id"] == phone_ticket
    assert label_of(site, backend_url, phone_ticket) == "REG-4711"
    await assert_not_an_identity(site, backend_url, "REG-4711")


async def test_the_python_api_identity_is_vouched_for_and_still_deduplicates(
    aiohttp_client: ClientFactory, backend_url: str
) -> None:
    site = await site_on(aiohttp_client, backend_url)
    first = await site.backend.join("kiel", "sub:4711", None)
    again = await site.backend.join("kiel", "sub:4711", None, label="another device")
    assert (again.id, again.new, again.token) == (first.id, False, first.token)
    labelled = [await site.backend.join("kiel", None, None, label="sub:4711") for _ in range(2)]
    assert len({first.id, *(t.id for t in labelled)}) == 3
