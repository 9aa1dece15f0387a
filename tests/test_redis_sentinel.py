"""A server on a Redis Sentinel URL through a failover: a primary, its replica and three sentinels
on loopback ports; the primary is killed while a visitor after another books. Every booking a
visitor saw confirmed is there after the failover, the ticker admits again, and every request
in between was answered 503 with ``Retry-After``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.server import Answer, ServerProcess
from tests.redis_support import SentinelSetup, needs_redis, redis_sentinels

pytestmark = [pytest.mark.redis, pytest.mark.slow, needs_redis]

SLOTS = 100
#: Generous: a failover takes a few seconds (1 s to call the primary down, then an election).
FAILOVER_TIMEOUT = 90.0


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSetup]:
    with redis_sentinels(tmp_path / "redis") as setup:
        yield setup


def write_config(tmp_path: Path, url: str) -> Path:
    opens = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    slots = ",\n".join(
        f'  {{ id = "s{i}", group = "Kiel", starts_at = "2031-05-12T08:00:00+02:00" }}'
        for i in range(SLOTS)
    )
    path = tmp_path / "pyqueue.toml"
    path.write_text(
        f"""[server]
backend = "{url}"
secrets = {{ k1 = "a-secret-for-the-sentinel-failover-test" }}

[[rooms]]
id = "kiel"
opens_at = "{opens}"
admit_per_minute = 6000
max_active = 1000
slots = [
{slots}
]
"""
    )
    return path


class Visitors:
    """Books slot after slot, one visitor each (join, wait for admission, hold, confirm),
    retrying a step answered 503; keeps every answer that was not a success."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.client = server.client()
        self.failures: list[Answer] = []
        self.booked: dict[str, str] = {}  # code -> slot, as confirmed to the visitor

    def ask(self, method: str, path: str, token: str | None = None) -> Any:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + FAILOVER_TIMEOUT
        while True:
            answer = self.client.request(method, path, {} if method == "POST" else None, headers)
            if answer.status < 300:
                return answer.json()
            self.failures.append(answer)
            assert answer.status == 503, (answer.status, answer.body)
            assert time.monotonic() < deadline, "still unavailable"
            time.sleep(0.1)

    def admitted(self) -> str:
        self.client = self.server.client()  # a new browser: its own cookies
        joined = self.ask("POST", "/v1/rooms/kiel/join")
        while True:
            status = self.ask("GET", "/v1/rooms/kiel/status", joined["ticket"])
            if status["state"] == "admitted":
                return str(status["pass"])
            assert status["state"] == "waiting", status
            time.sleep(0.05)

    def hold(self, slot: str) -> str:
        pass_token = self.admitted()
        self.ask("POST", f"/v1/rooms/kiel/slots/{slot}/hold", pass_token)
        return pass_token

    def confirm(self, slot: str, pass_token: str) -> None:
        booking = self.ask("POST", f"/v1/rooms/kiel/slots/{slot}/confirm", pass_token)
        assert booking["slot"] == slot
        self.booked[booking["code"]] = slot


def test_confirmed_bookings_survive_a_failover_and_the_room_goes_on(
    tmp_path: Path, sentinels: SentinelSetup
) -> None:
    path = write_config(tmp_path, sentinels.url)
    with ServerProcess(["--config", str(path)]) as server:
        visitors = Visitors(server)
        for i in range(5):
            visitors.confirm(f"s{i}", visitors.hold(f"s{i}"))
        assert visitors.failures == []

        # Killed between a hold and its confirmation, then bookings go on as visitors retry.
        held = visitors.hold("s5")
        sentinels.primary.kill()
        visitors.confirm("s5", held)
        deadline = time.monotonic() + FAILOVER_TIMEOUT
        after: list[str] = []
        slot = 6
        while len(after) < 3:
            assert time.monotonic() < deadline, "no failover"
            visitors.confirm(f"s{slot}", visitors.hold(f"s{slot}"))
            if sentinels.primary_port() == sentinels.replica.port:
                after.append(f"s{slot}")  # each needed the ticker to admit its visitor
            slot += 1

        # The failover was not invisible, and every failure said when to come back.
        assert visitors.failures, "no request failed: the primary was not really lost"
        for failure in visitors.failures:
            assert failure.json()["error"]["code"] == "unavailable", failure.body
            assert int(failure.headers["Retry-After"]) >= 1
        # Every booking a visitor saw confirmed is on the new primary, by its code.
        for code, booked_slot in visitors.booked.items():
            found = visitors.ask("GET", f"/v1/rooms/kiel/bookings/{code}")
            assert (found["code"], found["slot"]) == (code, booked_slot)
        assert len(visitors.booked) == slot
