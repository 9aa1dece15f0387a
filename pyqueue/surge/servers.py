"""The server a replay runs against: the real pyqueue server on a virtual clock (a Redis for
the Redis backend comes from :mod:`pyqueue.surge.redis_process`).

The server is the installed ``pyqueue serve`` in a process of its own (``python -m pyqueue``
with this interpreter, so the replay measures the same pyqueue that drives it), started by
:class:`ServerProcess`, which the project's tests use as well: ``--port 0`` and the port read
from its "listening" log line, so there is no race for a port, then readiness by ``/readyz``.
``--virtual-clock START --virtual-clock-speed 0`` makes time move only when the driver says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pyqueue.surge.processes import stop_process
from pyqueue.surge.scenario import Scenario, capacity_slots_csv, server_config, slots_csv

ADMIN_TOKEN = "surge-admin-token-0123456789"
SERVICE_TOKEN = "surge-service-token-0123456789"
#: Generous: the replays run on small, busy machines.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0


class ServerProcess:
    """``python -m pyqueue serve ARGS --host 127.0.0.1 --port 0`` in ``cwd`` (with ``env`` over
    this process's environment); a context manager that stops the server (SIGTERM, then
    SIGKILL) on exit. Its log is kept as lines (``raw``) and as the JSON entries among them
    (``logs``). The one starter of a server process: the project's tests use it too."""

    def __init__(
        self,
        args: Sequence[str] = (),
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.args = list(args)
        self.cwd = cwd
        self.env = None if env is None else {**os.environ, **env}
        self.port = 0
        self.raw: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self._listening = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        command = [sys.executable, "-m", "pyqueue", "serve", "--host", "127.0.0.1", "--port", "0"]
        self.process = subprocess.Popen(
            [*command, *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_logs, daemon=True)
        self._reader.start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def log_messages(self) -> list[str]:
        return [str(entry.get("message")) for entry in self.logs]

    def _read_logs(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.raw.append(line)
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            self.logs.append(entry)
            if entry.get("message") == "listening":
                self.port = int(entry["port"])
                self._listening.set()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + "".join(self.raw))
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not get ready:\n" + "".join(self.raw))
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/readyz", timeout=10) as answer:
                return int(answer.status) == 200
        except urllib.error.HTTPError as error:  # 503 while it starts
            error.close()  # it holds the open answer
            return False
        except OSError:  # refused
            return False

    def stop(self) -> int | None:
        """Stops the server; its exit status (None if it was never started)."""
        process = self.process
        if process is None:
            return None
        stop_process(process, timeout=STOP_TIMEOUT)
        # The log reader ends at the end of the pipe, once every process that inherited the
        # pipe has exited; only then is the pipe closed (an open one leaks a file).
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT)
            if self._reader.is_alive():
                return process.returncode
        if process.stderr is not None:
            process.stderr.close()
        return process.returncode


@contextmanager
def pyqueue_server(
    scenario: Scenario, backend_url: str, capacity_bookings: int
) -> Iterator[ServerProcess]:
    """The real server with a stopped clock, the scenario's room and its opening slots, and
    the room of the booking-capacity phase with ``capacity_bookings`` slots. Its files (the
    configuration, the slots, the memory backend's journal) live in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="surge-") as name:
        directory = Path(name)
        slots = directory / "slots.csv"
        slots.write_text(slots_csv(scenario, 0), encoding="utf-8")
        capacity_slots = directory / "capacity-slots.csv"
        capacity_slots.write_text(capacity_slots_csv(scenario, capacity_bookings), encoding="utf-8")
        config = directory / "pyqueue.toml"
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
        with ServerProcess(args, cwd=directory) as server:
            yield server
