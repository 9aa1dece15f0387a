"""The server a replay runs against: the real pyqueue server on a virtual clock (a Redis for
the Redis backend comes from :mod:`bench.procs`).

The server is started exactly as the tests start it
(``tests/helpers/server.py``: a free port, readiness by ``/readyz``), with ``--virtual-clock
START --virtual-clock-speed 0`` so that time moves only when the driver says so.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.surge.scenario import Scenario, capacity_slots_csv, server_config, slots_csv
from tests.helpers.server import ServerProcess

ADMIN_TOKEN = "surge-admin-token-0123456789"
SERVICE_TOKEN = "surge-service-token-0123456789"


@contextmanager
def pyqueue_server(
    scenario: Scenario, backend_url: str, capacity_bookings: int
) -> Iterator[ServerProcess]:
    """The real server with a stopped clock, the scenario's room and its opening slots, and
    the room of the booking-capacity phase with ``capacity_bookings`` slots."""
    with tempfile.TemporaryDirectory(prefix="surge-") as directory:
        slots = Path(directory) / "slots.csv"
        slots.write_text(slots_csv(scenario, 0), encoding="utf-8")
        capacity_slots = Path(directory) / "capacity-slots.csv"
        capacity_slots.write_text(capacity_slots_csv(scenario, capacity_bookings), encoding="utf-8")
        config = Path(directory) / "pyqueue.toml"
        config.write_text(
            server_config(
                scenario,
                backend_url,
                (slots, capacity_slots),
                capacity_bookings,
                ADMIN_TOKEN,
                SERVICE_TOKEN,
            ),
            encoding="utf-8",
        )
        args = [
            "--config",
            str(config),
            "--virtual-clock",
            scenario.starts_at.isoformat(),
            "--virtual-clock-speed",
            "0",
        ]
        with ServerProcess(args) as server:
            yield server
