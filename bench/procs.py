"""What the benchmarks share to run their processes: free ports, readiness over HTTP, small
JSON requests, and a throw-away ``redis-server`` with its command count (the last from the
package, where the surge replays need it too)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from pyqueue.surge.redis_process import (
    free_port,
    redis_available,
    redis_call,
    redis_commands,
    redis_server,
)

__all__ = [
    "free_port",
    "redis_available",
    "redis_call",
    "redis_commands",
    "redis_server",
    "request",
    "wait_http",
]


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Returns once ``url`` answers at all; raises after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                answer.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.1)


def request(url: str, method: str = "GET", body: bytes | None = None, **headers: str) -> Any:
    """The JSON answer of one request (``{}`` for an empty body)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")
