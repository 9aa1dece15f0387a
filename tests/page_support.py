"""Helpers of the in-process page tests: the application on a virtual clock, and visitors that
keep their own cookies (one :class:`Visitor` is one browser)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient

import pyqueue
from pyqueue.backends import Backend, open_backend
from pyqueue.config import settings_from_mapping
from pyqueue.server.app import create_app

NOW = datetime(2021, 5, 10, 4, 50, tzinfo=UTC)  # 06:50 in Kiel
OPENS_AT = NOW + timedelta(minutes=10)
ADMIN = "admin-token-of-the-page-tests"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
SECRET = "a-secret-of-the-page-tests-0123456789"

ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


def slots(centre: str, day: str, times: list[str], prefix: str = "s") -> list[dict[str, str]]:
    return [
        {"id": f"{prefix}{i}", "group": f"{centre} {day}", "starts_at": f"{day}T{t}:00+02:00"}
        for i, t in enumerate(times)
    ]


def room(room_id: str = "kiel", **settings: Any) -> dict[str, Any]:
    """A room table as in the TOML file; opens at :data:`OPENS_AT` unless told."""
    table: dict[str, Any] = {
        "id": room_id,
        "opens_at": OPENS_AT.isoformat(),
        "admit_per_minute": 60,
        "max_active": 100,
        "heartbeat_timeout_seconds": 3600,
        "timezone": "Europe/Berlin",
        "seed": 7,
        "slots": slots("Kiel Ostseehalle", "2021-05-12", ["08:00", "08:30", "09:00"]),
    }
    table.update(settings)
    return table


@dataclass
class Site:
    """The app and the handles a test moves time with."""

    app: web.Application
    backend: Backend
    clock: pyqueue.VirtualClock
    client: TestClient[web.Request, web.Application]

    async def advance(self, seconds: float, room_id: str = "kiel") -> None:
        self.clock.advance(seconds)
        await self.backend.tick(room_id)

    def visitor(self, lang: str = "de-DE", agent: str = FIREFOX) -> Visitor:
        return Visitor(self.client, lang, agent)


async def make_site(
    aiohttp_client: ClientFactory, rooms: list[dict[str, Any]], **server: Any
) -> Site:
    clock = pyqueue.VirtualClock(NOW)
    data = {"server": {"admin_token": ADMIN, "secrets": {"k1": SECRET}, **server}, "rooms": rooms}
    settings = settings_from_mapping(data, base_dir=Path.cwd(), env={})
    backend = open_backend(settings, clock)  # the memory backend unless `backend` names Redis
    app = create_app(settings, backend, clock=clock, run_ticker=False)
    client = await aiohttp_client(app, cookie_jar=DummyCookieJar())
    return Site(app, backend, clock, client)


@dataclass
class Page:
    status: int
    text: str
    headers: Mapping[str, str]

    @property
    def view(self) -> str:
        match = re.search(r'<body data-view="([^"]+)"', self.text)
        assert match, self.text[:500]
        return match.group(1)

    @property
    def data(self) -> dict[str, Any]:
        match = re.search(r'<script type="application/json" id="pq-data">(.*?)</script>', self.text)
        assert match, "no script data on the page"
        return dict(orjson.loads(match.group(1)))

    @property
    def h1(self) -> str:
        return heading(self.text)

    def has(self, text: str) -> bool:
        return text in self.text


def heading(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match, "no h1"
    return match.group(1)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.actions.append(dict(attrs).get("action") or "")


def form_actions(html: str) -> list[str]:
    parser = _Forms()
    parser.feed(html)
    return parser.actions


@dataclass
class Visitor:
    """One browser: its language, its user agent and its cookies."""

    client: TestClient[web.Request, web.Application]
    lang: str
    agent: str
    cookies: dict[str, str] = field(default_factory=dict)

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept-Language": self.lang, "User-Agent": self.agent}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra or {})
        return headers

    def _keep(self, response: Any) -> None:
        for name, morsel in response.cookies.items():
            if morsel["max-age"] == "0" or morsel.value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> Page:
        async with self.client.get(
            path, headers=self._headers(headers), allow_redirects=False
        ) as response:
            self._keep(response)
            return Page(response.status, await response.text(), response.headers)

    async def post(
        self,
        path: str,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        async with self.client.post(
            path, data=dict(data or {}), headers=self._headers(headers), allow_redirects=False
        ) as response:
            self._keep(response)
            return Page(response.status, await response.text(), response.headers)

    async def follow(self, page: Page) -> Page:
        """The page a 303 leads to."""
        assert page.status == 303, (page.status, page.text[:300])
        return await self.get(page.headers["Location"])

    async def api(self, method: str, path: str) -> tuple[int, Any]:
        async with self.client.request(method, path, headers=self._headers(None)) as response:
            self._keep(response)
            return response.status, await response.json()
