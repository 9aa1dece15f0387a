"""The real server as a subprocess on a free port of 127.0.0.1, and a small HTTP client.

The server picks its own port (``--port 0``) and says which in its "listening" log line, so
there is no race for a port. Readiness is awaited by polling ``/readyz`` with generous
timeouts: these tests must pass on a loaded two-core machine.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0


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


class ServerProcess:
    """``python server.py ARGS --port 0``; use as a context manager."""

    def __init__(
        self, args: Sequence[str] = (), env: Mapping[str, str] | None = None, cwd: Path = ROOT
    ) -> None:
        self.args = list(args)
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.cwd = cwd
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.port = 0
        self._listening = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self._log_reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Client:
        return Client(self.base_url)

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "server.py"),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *self.args,
            ],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._log_reader = threading.Thread(target=self._read_logs, daemon=True)
        self._log_reader.start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read_logs(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.raw.append(line)
            try:
                entry = json.loads(line)
            except ValueError:
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
        client = self.client()
        while True:
            try:
                if client.request("GET", "/readyz").status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not get ready:\n" + "".join(self.raw))
            time.sleep(0.1)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()
        return self.process.returncode

    def _close_log(self) -> None:
        """Reads the log to its end, then closes the pipe (an open one leaks a file)."""
        assert self.process is not None and self.process.stderr is not None
        if self._log_reader is not None:
            # Ends at EOF, once every process that inherited the pipe has exited.
            self._log_reader.join(timeout=60)
            if self._log_reader.is_alive():
                return
        self.process.stderr.close()

    def log_messages(self) -> list[str]:
        return [str(entry.get("message")) for entry in self.logs]
