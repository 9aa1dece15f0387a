"""``/``: a person who opens only the server's address reaches the waiting room."""

from __future__ import annotations

from tests.page_support import ADMIN, FIREFOX, make_site, room


async def test_one_room_sends_slash_to_its_page(aiohttp_client):
    site = await make_site(aiohttp_client, [room("kiel")])
    answer = await site.client.get("/", allow_redirects=False)
    assert answer.status == 302
    assert answer.headers["Location"] == "/rooms/kiel"
    assert answer.headers["Cache-Control"] == "no-store"


async def test_several_rooms_are_listed_with_a_link_to_each(aiohttp_client):
    site = await make_site(aiohttp_client, [room("kiel"), room("husum", slots=[])])
    answer = await site.client.get(
        "/", headers={"User-Agent": FIREFOX, "Accept-Language": "en"}, allow_redirects=False
    )
    assert answer.status == 200
    html = await answer.text()
    assert 'data-view="rooms"' in html and "Waiting rooms" in html
    assert html.index('href="/rooms/husum"') < html.index('href="/rooms/kiel"')
    # A page of no room links to no room's cancel page.
    assert "/cancel" not in html
    german = await site.client.get("/", headers={"Accept-Language": "de"})
    assert "Warteräume" in await german.text()


async def test_a_room_created_later_counts_and_without_rooms_slash_is_404(aiohttp_client):
    site = await make_site(aiohttp_client, [])
    answer = await site.client.get("/", allow_redirects=False)
    assert answer.status == 404
    # The same answer as any other path that leads nowhere.
    elsewhere = await site.client.get("/nowhere")
    assert await answer.json() == await elsewhere.json()
    created = await site.client.put(
        "/v1/admin/rooms/husum",
        json={"opens_at": "2021-05-11T07:00:00+02:00"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert created.status in (200, 201)
    answer = await site.client.get("/", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/rooms/husum"
