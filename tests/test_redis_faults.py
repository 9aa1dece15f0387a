"""Two server processes on one Redis, against faults: Redis killed and restarted under load
(every process admits again, nothing confirmed is lost), and a node whose clock runs fast
(nothing opens early, no pass expires early: the rooms run on Redis's time)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.server import ServerProcess
from tests.redis_support import RedisServer, needs_redis
from tests.test_redis_processes import ADMIN, redis, status, wait_for, write_config

pytestmark = [pytest.mark.redis, pytest.mark.slow, needs_redis]

__all__ = ["redis"]  # the fixture, shared

#: As in the report: Redis gone for some seconds, far longer than the room list is cached.
OUTAGE_SECONDS = 5.0
#: How far the skewed node's clock runs ahead of Redis's.
SKEW_SECONDS = 300


class Load(threading.Thread):
    """Visitors polling their status on both nodes, and new ones joining, until stopped."""

    def __init__(self, nodes: list[ServerProcess], tickets: list[str]) -> None:
        super().__init__(daemon=True)
        self.nodes = nodes
        self.tickets = tickets
        self.answers: Counter[int] = Counter()
        self.done = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.done.is_set():
            node = self.nodes[i % len(self.nodes)]
            ticket = self.tickets[i % len(self.tickets)]
            client = node.client()
            for method, path, headers in (
                ("GET", "/v1/rooms/kiel/status", {"Authorization": f"Bearer {ticket}"}),
                ("POST", "/v1/rooms/kiel/join", {}),
            ):
                try:
                    answer = client.request(method, path, {} if method == "POST" else None, headers)
                except OSError:
                    continue
                self.answers[answer.status] += 1
            i += 1

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=60)


def readyz(node: ServerProcess) -> Any:
    answer = node.client().request("GET", "/readyz")
    return answer.status, answer.json()


def task_logs(node: ServerProcess, message: str, task: str) -> list[dict[str, Any]]:
    return [e for e in node.logs if e.get("message") == message and e.get("task") == task]


def test_redis_killed_and_restarted_under_load(tmp_path: Path, redis: RedisServer) -> None:
    path = write_config(tmp_path, redis.url, datetime.now(UTC) - timedelta(minutes=1), slots=2)
    with ServerProcess(["--config", str(path)]) as a, ServerProcess(["--config", str(path)]) as b:
        nodes = [a, b]
        # A booking confirmed before the outage.
        buyer = a.client()
        first = buyer.request("POST", "/v1/rooms/kiel/join", {}).json()
        admitted = wait_for(
            lambda: (s := status(buyer, first["ticket"]))["state"] == "admitted" and s
        )
        auth = {"Authorization": f"Bearer {admitted['pass']}"}
        assert buyer.request("POST", "/v1/rooms/kiel/slots/s0/hold", headers=auth).status == 201
        booked = buyer.request("POST", "/v1/rooms/kiel/slots/s0/confirm", headers=auth)
        assert booked.status == 201, booked.body
        code = booked.json()["code"]

        # Visitors waiting on both nodes while the room is paused: only the tickers can admit
        # them, once it resumes after the outage.
        paused = a.client().request("POST", "/v1/admin/rooms/kiel/pause", {}, headers=ADMIN)
        assert paused.status == 200, paused.body
        tickets = []
        for i in range(30):
            joined = nodes[i % 2].client().request("POST", "/v1/rooms/kiel/join", {})
            assert joined.status == 201, joined.body
            assert joined.json()["state"] == "waiting"
            tickets.append(joined.json()["ticket"])

        load = Load(nodes, tickets)
        load.start()
        try:
            redis.kill()
            for node in nodes:
                wait_for(lambda node=node: readyz(node)[0] == 503)
            time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for a result
            for node in nodes:
                # Failing, not dead: no restart needed.
                assert node.client().request("GET", "/healthz").status == 200
                assert readyz(node)[0] == 503
            redis.start()

            def resume() -> bool:
                answer = a.client().request(
                    "POST", "/v1/admin/rooms/kiel/resume", {}, headers=ADMIN
                )
                return answer.status == 200

            wait_for(resume)
            # Every waiting visitor is admitted, whichever node they ask.
            for i, ticket in enumerate(tickets):
                wait_for(
                    lambda i=i, ticket=ticket: (
                        status(nodes[(i + 1) % 2].client(), ticket)["state"] == "admitted"
                    )
                )
            for node in nodes:
                body = wait_for(lambda node=node: (r := readyz(node))[0] == 200 and r[1])
                assert set(body["tasks"]) >= {"ticker", "redis-heartbeats", "redis-clock"}
                assert body["tasks"]["ticker"]["failures"] > 0
                assert node.client().request("GET", "/healthz").status == 200
        finally:
            load.stop()

        # Nothing confirmed is lost (AOF with fsync always).
        again = a.client().request("GET", f"/v1/rooms/kiel/bookings/{code}")
        assert again.status == 200 and again.json()["slot"] == "s0"
        # Under load, the outage was answered with 503, never with a 500.
        assert load.answers[503] > 0 and load.answers[200] > 0
        assert not [s for s in load.answers if s >= 500 and s != 503], load.answers
        for node in nodes:
            # Each ticker said once that it was failing, and once that it recovered.
            failing = "background task failing; retrying with backoff"
            assert len(task_logs(node, failing, "ticker")) == 1
            assert len(task_logs(node, "background task recovered", "ticker")) == 1


def faketime_library() -> str:
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    assert found, "libfaketime is missing: `make system-deps` installs the faketime package"
    return str(found[0])


def write_two_rooms(tmp_path: Path, url: str, later: datetime, earlier: datetime) -> Path:
    path = tmp_path / "skew.toml"
    path.write_text(
        f"""[server]
backend = "{url}"
admin_token = "admin-token-for-the-redis-tests"
secrets = {{ k1 = "a-secret-for-the-redis-process-tests" }}

[[rooms]]
id = "later"
opens_at = "{later.isoformat()}"
admit_per_minute = 6000
max_active = 1000

[[rooms]]
id = "kiel"
opens_at = "{earlier.isoformat()}"
admit_per_minute = 6000
max_active = 1000
session_seconds = {SKEW_SECONDS // 2}
"""
    )
    return path


def test_a_node_with_a_fast_clock_opens_nothing_early(tmp_path: Path, redis: RedisServer) -> None:
    now = datetime.now(UTC)
    # "later" opens well before the fast node's clock says so, "kiel" is open already, and
    # its passes last half as long as the fast node is ahead.
    path = write_two_rooms(
        tmp_path, redis.url, now + timedelta(minutes=2), now - timedelta(hours=1)
    )
    fast_env = {
        "LD_PRELOAD": faketime_library(),
        "FAKETIME": f"+{SKEW_SECONDS}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    with (
        ServerProcess(["--config", str(path)]) as honest,
        ServerProcess(["--config", str(path)], env=fast_env) as fast,
    ):
        # Joins on the fast node land in the pre-queue, with the true time to the opening.
        tickets = []
        for _ in range(5):
            joined = fast.client().request("POST", "/v1/rooms/later/join", {})
            assert joined.status == 201, joined.body
            assert joined.json()["state"] == "prequeue", joined.json()
            assert joined.json()["opens_in_seconds"] > 60
            tickets.append(joined.json()["ticket"])
        # However often the fast node is asked and ticks, nothing opens.
        for _ in range(40):
            for node in (fast, honest):
                for ticket in tickets:
                    answer = node.client().request(
                        "GET",
                        "/v1/rooms/later/status",
                        headers={"Authorization": f"Bearer {ticket}"},
                    )
                    assert answer.status == 200 and answer.json()["state"] == "prequeue"
                room = node.client().request("GET", "/v1/rooms/later").json()
                assert room["state"] == "prequeue" and room["opens_in_seconds"] > 60
            time.sleep(0.05)

        # A pass issued by the honest node is good on the fast one for its whole session.
        visitor = honest.client()
        joined = visitor.request("POST", "/v1/rooms/kiel/join", {}).json()
        admitted = wait_for(
            lambda: (s := status(visitor, joined["ticket"]))["state"] == "admitted" and s
        )
        fast_status = status(fast.client(), joined["ticket"])
        assert fast_status["state"] == "admitted"
        assert fast_status["pass_expires_in_seconds"] > SKEW_SECONDS // 2 - 60
        checked = fast.client().request(
            "GET", "/v1/check?room=kiel", headers={"X-Pyqueue-Pass": admitted["pass"]}
        )
        assert checked.status == 204, checked.body
        slots = fast.client().request(
            "GET", "/v1/rooms/kiel/slots", headers={"Authorization": f"Bearer {admitted['pass']}"}
        )
        assert slots.status == 200, slots.body

        # The fast node measures how far off Redis's clock it is, and says so.
        clock = readyz(fast)[1]["clock"]
        assert clock["source"] == "redis" and clock["offset_seconds"] > SKEW_SECONDS - 30
        assert abs(readyz(honest)[1]["clock"]["offset_seconds"]) < 30
