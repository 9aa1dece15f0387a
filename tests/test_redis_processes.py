"""Two server processes on one Redis: any node serves any ticket, claims from both book each slot
once, the pre-queue is drawn once; and Redis killed and restarted mid-run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.server import Client, ServerProcess
from tests.redis_support import RedisServer, needs_redis

pytestmark = [pytest.mark.redis, pytest.mark.slow, needs_redis]

ADMIN = {"Authorization": "Bearer admin-token-for-the-redis-tests"}


def write_config(tmp_path: Path, url: str, opens: datetime, slots: int = 4, **room: Any) -> Path:
    extra = "".join(f"{k} = {v!r}\n" for k, v in room.items())
    slot_lines = ",\n".join(
        f'  {{ id = "s{i}", group = "Kiel", starts_at = "2031-05-12T08:{i:02d}:00+02:00" }}'
        for i in range(slots)
    )
    path = tmp_path / "pyqueue.toml"
    path.write_text(
        f"""[server]
backend = "{url}"
admin_token = "admin-token-for-the-redis-tests"
secrets = {{ k1 = "a-secret-for-the-redis-process-tests" }}

[[rooms]]
id = "kiel"
opens_at = "{opens.isoformat()}"
admit_per_minute = 6000
max_active = 1000
heartbeat_timeout_seconds = 120
{extra}slots = [
{slot_lines}
]
"""
    )
    return path


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def status(client: Client, token: str) -> dict[str, Any]:
    answer = client.request(
        "GET", "/v1/rooms/kiel/status", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.json()
    return body


def test_two_processes_share_tickets_slots_and_the_draw(tmp_path: Path, redis: RedisServer) -> None:
    # Far off, so that every join lands in the pre-queue however slowly the servers start;
    # moved to now by the operator below.
    opens = datetime.now(UTC) + timedelta(hours=1)
    path = write_config(tmp_path, redis.url, opens)
    with ServerProcess(["--config", str(path)]) as a, ServerProcess(["--config", str(path)]) as b:
        tickets = []
        for i in range(20):
            node = (a, b)[i % 2].client()
            joined = node.request("POST", "/v1/rooms/kiel/join", {})
            assert joined.status == 201, joined.body
            assert joined.json()["state"] == "prequeue"
            tickets.append(joined.json()["ticket"])
        # A ticket of one node is known to the other.
        assert status(b.client(), tickets[0])["state"] == "prequeue"
        now = datetime.now(UTC).isoformat()
        opened = a.client().request(
            "PATCH", "/v1/admin/rooms/kiel", {"opens_at": now}, headers=ADMIN
        )
        assert opened.status == 200, opened.body
        # After opening both nodes admit the drawn queue; everyone gets through.
        passes = wait_for(
            lambda: (
                [
                    s["pass"]
                    for s in [status((b, a)[i % 2].client(), t) for i, t in enumerate(tickets)]
                    if s["state"] == "admitted"
                ]
                if all(status(a.client(), t)["state"] == "admitted" for t in tickets)
                else None
            )
        )
        assert len(passes) == 20

        # The stats come from the node's cache of the room, refreshed within its interval: the
        # last admission may reach it a moment after the visitor's own status shows it.
        def stats_with_everyone_admitted() -> dict[str, Any] | None:
            answer = a.client().request("GET", "/v1/admin/rooms/kiel/stats", headers=ADMIN)
            stats: dict[str, Any] = answer.json()
            return stats if stats["counters"]["admitted"] == 20 else None

        stats = wait_for(stats_with_everyone_admitted)
        assert stats["draw"]["size"] == 20
        # Claims from both nodes on the same slots: each slot held once.
        won: dict[str, int] = {}
        for i, token in enumerate(passes):
            node = (a, b)[i % 2].client()
            for slot in ("s0", "s1"):
                answer = node.request(
                    "POST",
                    f"/v1/rooms/kiel/slots/{slot}/hold",
                    headers={"Authorization": f"Bearer {token}"},
                )
                if answer.status == 201:
                    won[slot] = won.get(slot, 0) + 1
                else:
                    assert answer.status == 409, answer.body
        assert won == {"s0": 1, "s1": 1}


def test_redis_lost_and_back_loses_no_booking(tmp_path: Path, redis: RedisServer) -> None:
    opens = datetime.now(UTC) - timedelta(minutes=1)
    path = write_config(tmp_path, redis.url, opens, slots=2)
    with ServerProcess(["--config", str(path)]) as server:
        visitor = server.client()
        joined = visitor.request("POST", "/v1/rooms/kiel/join", {}).json()
        ticket = joined["ticket"]
        auth = {"Authorization": f"Bearer {joined['pass']}"}
        assert visitor.request("POST", "/v1/rooms/kiel/slots/s0/hold", headers=auth).status == 201
        booked = visitor.request("POST", "/v1/rooms/kiel/slots/s0/confirm", headers=auth)
        assert booked.status == 201
        code = booked.json()["code"]
        assert status(visitor, ticket)["state"] in ("admitted", "completed")

        redis.kill()
        # Writes fail clearly; a known ticket's status is still served from the cache.
        down = server.client().request("POST", "/v1/rooms/kiel/join", {})
        assert down.status == 503, down.body
        assert down.json()["error"]["code"] == "unavailable"
        assert status(visitor, ticket)["state"] in ("admitted", "completed")

        redis.start()
        # Back by itself: the booking made before the crash is still there (AOF, fsync always).
        again = wait_for(
            lambda: (
                answer
                if (
                    answer := server.client().request("GET", f"/v1/rooms/kiel/bookings/{code}")
                ).status
                == 200
                else None
            )
        )
        assert again.json()["slot"] == "s0"
        assert server.client().request("POST", "/v1/rooms/kiel/join", {}).status == 201


def worker_pids(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (from /proc: no extra dependency)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                children.append(int(entry.name))
    return children


def test_workers_share_one_port(tmp_path: Path, redis: RedisServer) -> None:
    import signal
    import socket
    import subprocess
    import sys

    from tests.helpers.server import ROOT

    path = write_config(tmp_path, redis.url, datetime.now(UTC) - timedelta(minutes=1))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    parent = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "server.py"),
            "--config",
            str(path),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = Client(f"http://127.0.0.1:{port}")

        def ready() -> bool:
            try:
                return client.request("GET", "/readyz").status == 200
            except OSError:
                return False

        wait_for(ready)
        assert (
            len(
                wait_for(
                    lambda: worker_pids(parent.pid) if len(worker_pids(parent.pid)) == 2 else None
                )
            )
            == 2
        )
        ids = set()
        for _ in range(20):
            # A fresh client each time: a cookie would resume the same ticket.
            fresh = Client(f"http://127.0.0.1:{port}")
            answer = fresh.request("POST", "/v1/rooms/kiel/join", body={})
            assert answer.status == 201, answer.body
            ids.add(answer.json()["ticket_id"])
        assert len(ids) == 20, "two processes must never hand out the same ticket"
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 0
    assert worker_pids(parent.pid) == []
