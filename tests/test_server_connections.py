"""The connection layer of the real server, with raw sockets: a request head that comes too
slowly is cut, connections over ``server.max_connections`` get a 503 they can read, and idle
kept-alive connections are closed. Waits are generous and only ever for "eventually"."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.slow

#: How long anything here may take on a loaded machine before the test gives up.
PATIENCE = 60.0


def config(tmp_path: Path, **server: object) -> Path:
    lines = "\n".join(f"{name} = {value}" for name, value in server.items())
    path = tmp_path / "pyqueue.toml"
    path.write_text(
        f"""[server]
secrets = {{ k1 = "a-secret-for-the-connection-tests" }}
{lines}

[[rooms]]
id = "kiel"
opens_at = "2031-05-12T08:00:00+02:00"
"""
    )
    return path


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)


def read_until_closed(sock: socket.socket, dribble: bytes = b"") -> bytes:
    """Everything the server sends until it closes; meanwhile ``dribble`` goes out a byte
    at a time (a slow client). Fails if the server keeps the socket open past PATIENCE."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + PATIENCE
    sent = 0
    while time.monotonic() < deadline:
        if sent < len(dribble):
            try:
                sock.sendall(dribble[sent : sent + 1])
            except OSError:
                return received
            sent += 1
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return received
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the server kept the connection open; received {received!r}")


def metric(server: ServerProcess, name: str) -> float:
    text = server.client().request("GET", "/metrics").body.decode()
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    assert match, f"{name} is not in /metrics"
    return float(match.group(1))


@pytest.fixture(scope="module")
def slow_heads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    path = config(tmp_path_factory.mktemp("heads"), header_timeout_seconds=1)
    with ServerProcess(["--config", str(path)]) as server:
        yield server


def test_a_request_head_sent_slowly_is_cut_with_a_408(slow_heads: ServerProcess) -> None:
    # Endless headers, a byte at a time: never a complete head. The keep-alive timeout
    # (75 s by default) would not end this; the head deadline does.
    dribble = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: a\r\n" * 2000
    with connect(slow_heads) as sock:
        answer = read_until_closed(sock, dribble)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"code":"timeout"' in answer


def test_a_connection_that_sends_nothing_is_closed(slow_heads: ServerProcess) -> None:
    with connect(slow_heads) as sock:
        assert read_until_closed(sock) == b""
    assert metric(slow_heads, "pyqueue_http_header_timeouts_total") >= 1


def test_a_kept_alive_connection_serves_requests_after_the_head_deadline(
    slow_heads: ServerProcess,
) -> None:
    """The head deadline counts from a request's first byte, not from the connection's start:
    a client that pauses between requests is governed by the keep-alive timeout."""
    with connect(slow_heads) as sock:
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            # Longer than the head deadline (1 s), shorter than keep-alive (75 s).
            time.sleep(2.5)


def test_over_the_cap_a_request_gets_503_and_after_the_crowd_leaves_200(
    tmp_path: Path,
) -> None:
    path = config(tmp_path, max_connections=8, header_timeout_seconds=300)
    with ServerProcess(["--config", str(path)]) as server, ExitStack() as crowd:
        idle = [crowd.enter_context(connect(server)) for _ in range(8)]
        client = server.client()
        refused = client.request("GET", "/v1/rooms/kiel")
        assert refused.status == 503, refused.body
        assert refused.json()["error"]["code"] == "too_many_connections"
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.headers["Connection"] == "close"
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + PATIENCE
        while client.request("GET", "/v1/rooms/kiel").status != 200:
            assert time.monotonic() < deadline, "requests stayed refused after the crowd left"
            time.sleep(0.1)
        assert metric(server, "pyqueue_http_connections_refused_total") >= 1


def test_idle_kept_alive_connections_are_closed(tmp_path: Path) -> None:
    path = config(tmp_path, keepalive_seconds=1)
    with ServerProcess(["--config", str(path)]) as server, connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer


def test_a_body_that_does_not_decompress_is_no_error_where_nobody_reads_it(
    slow_heads: ServerProcess,
) -> None:
    """A route that ignores the body still answers; aiohttp then drains the body, fails to
    decompress it and ends the connection, which is the client's mistake, not an error."""
    body = b"this is not gzip"
    request = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with connect(slow_heads) as sock:
        sock.sendall(request)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    # The server still serves (and its log line for this, if any, is below error level).
    assert slow_heads.client().request("GET", "/healthz").status == 200
    assert not [e for e in slow_heads.logs if e.get("level") in ("error", "critical")]
