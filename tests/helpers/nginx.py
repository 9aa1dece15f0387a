"""Real nginx and Caddy (the Debian packages) in a temporary prefix, and a dummy booking site.

nginx runs in the foreground with its own pid file, logs and temp paths under the test's
directory, so it never touches the system's nginx.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pytest

from pyqueue.surge.processes import stop_process


def nginx_binary() -> str:
    for candidate in ("/usr/sbin/nginx", shutil.which("nginx")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("nginx is not installed (make system-deps)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrap_http_snippet(snippet: str, prefix: Path) -> str:
    """A whole nginx.conf around an http-context snippet, everything under ``prefix``."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{snippet}
}}
"""


def wait_listening(
    process: subprocess.Popen[Any], port: int, exited: Callable[[], str], timeout: float
) -> None:
    """Waits until ``port`` takes connections; ``exited()`` says why if ``process`` ended first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(exited())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Nginx:
    def __init__(self, snippet: str, prefix: Path) -> None:
        self.prefix = prefix
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(wrap_http_snippet(snippet, prefix))
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        binary = nginx_binary()
        check = subprocess.run(
            [binary, "-t", "-p", str(self.prefix), "-c", str(self.conf)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(
            [binary, "-p", str(self.prefix), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def wait_listening(self, port: int, timeout: float = 60.0) -> None:
        assert self.process is not None and self.process.stderr is not None
        stderr = self.process.stderr
        wait_listening(self.process, port, lambda: f"nginx exited: {stderr.read()!r}", timeout)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGQUIT)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


class StubSite:
    """A small HTTP server on a free port whose every GET is answered by :meth:`answer`."""

    def answer(self, path: str, headers: Any) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def __init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, content_type, data = site.answer(self.path, self.headers)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class BookingSite(StubSite):
    """A dummy booking site: answers 200 with the path and the ticket nginx passed on."""

    def answer(self, path: str, headers: Any) -> tuple[int, str, bytes]:
        body = f"booking {path} ticket={headers.get('X-Pyqueue-Ticket')}"
        return 200, "text/plain", body.encode()


def caddy_binary() -> str:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.skip("caddy is not installed (make system-deps)")
    return binary


def wrap_caddy_site(site: str, prefix: Path) -> str:
    """A whole Caddyfile around a site block: no admin endpoint, no certificates, and Caddy's
    storage under ``prefix``, so that it never reaches the network nor the system's Caddy."""
    return f"""{{
	admin off
	auto_https off
	storage file_system {prefix}/storage
}}

{site}"""


class Caddy:
    """A real Caddy (the Debian package) in the foreground, with its files under ``prefix``."""

    def __init__(self, site: str, prefix: Path) -> None:
        self.conf = prefix / "Caddyfile"
        self.conf.write_text(wrap_caddy_site(site, prefix))
        # Caddy keeps its own state under XDG_DATA_HOME/XDG_CONFIG_HOME (and HOME).
        self.env = {
            **os.environ,
            "HOME": str(prefix),
            "XDG_DATA_HOME": str(prefix / "data"),
            "XDG_CONFIG_HOME": str(prefix / "config"),
        }
        self.log = prefix / "caddy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Caddy:
        binary = caddy_binary()
        args = ["--config", str(self.conf), "--adapter", "caddyfile"]
        check = subprocess.run(
            [binary, "validate", *args], capture_output=True, text=True, env=self.env
        )
        assert check.returncode == 0, check.stderr
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, "run", *args], stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        return self

    def wait_listening(self, port: int, timeout: float = 60.0) -> None:
        assert self.process is not None
        wait_listening(self.process, port, lambda: f"caddy exited: {self.log.read_text()}", timeout)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_process(self.process)
