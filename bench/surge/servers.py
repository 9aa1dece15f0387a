"""The processes a replay runs against: the real pyqueue server on a virtual clock, and, for
the Redis backend, a throw-away ``redis-server``.

The server is started exactly as the tests start it (``tests/helpers/server.py``: a free port,
readiness by ``/readyz``), with ``--virtual-clock START --virtual-clock-speed 0`` so that time
moves only when the driver says so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.surge.scenario import Scenario, capacity_slots_csv, server_config, slots_csv
from tests.helpers.server import ServerProcess

ADMIN_TOKEN = "surge-admin-token-0123456789"
SERVICE_TOKEN = "surge-service-token-0123456789"


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_call(port: int, *words: str) -> bytes:
    """One command over a raw socket; enough for INFO and FLUSHALL, no client needed."""
    payload = f"*{len(words)}\r\n".encode()
    for word in words:
        data = word.encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = b""
        while True:
            chunk = sock.recv(65536)
            chunks += chunk
            if not chunk or _complete(chunks):
                return chunks


def _complete(reply: bytes) -> bool:
    if reply.startswith(b"$"):
        header, _, rest = reply.partition(b"\r\n")
        return len(rest) >= int(header[1:]) + 2
    return reply.endswith(b"\r\n")


def redis_commands(port: int) -> int:
    """All commands the Redis server has run so far (INFO commandstats), INFO itself aside."""
    text = _redis_call(port, "INFO", "commandstats").decode(errors="replace")
    total = 0
    for line in text.splitlines():
        if line.startswith("cmdstat_") and not line.startswith("cmdstat_info:"):
            calls = line.split("calls=", 1)[1].split(",", 1)[0]
            total += int(calls)
    return total


@contextmanager
def redis_server() -> Iterator[int]:
    """A redis-server without persistence on a free port; yields the port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="surge-redis-") as directory:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if _redis_call(port, "PING").startswith(b"+PONG"):
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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
