"""The real server as a subprocess on a free port of 127.0.0.1 (the package's starter,
:class:`pyqueue.surge.servers.ServerProcess`), and a small HTTP client.

The server picks its own port (``--port 0``) and says which in its "listening" log line, so
there is no race for a port. Readiness is awaited by polling ``/readyz`` with generous
timeouts: these tests must pass on a loaded two-core machine.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyqueue.surge import servers as surge_servers

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A urllib client with its own cookie jar: one browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        data = None
        all_headers = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=all_headers
        )
        try:
            with self._opener.open(request, timeout=30) as answer:
                return Answer(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            # The error holds the open answer: closed here, not whenever it is collected.
            with error:
                return Answer(error.code, error.headers, error.read())

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class ServerProcess(surge_servers.ServerProcess):
    """The package's server starter (``python -m pyqueue serve ARGS --port 0``), run from the
    checkout with this checkout's package first on the path."""

    def __init__(
        self, args: Sequence[str] = (), env: Mapping[str, str] | None = None, cwd: Path = ROOT
    ) -> None:
        super().__init__(args, cwd=cwd, env={"PYTHONPATH": str(ROOT), **(env or {})})

    def client(self) -> Client:
        return Client(self.base_url)
