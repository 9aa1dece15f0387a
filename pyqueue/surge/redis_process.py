"""A throw-away ``redis-server`` for a replay on the Redis backend, and its command count.

The project's own benchmarks (``bench/``) start their Redis servers with these too.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pyqueue.surge.processes import stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def redis_call(port: int, *words: str) -> bytes:
    """One command over a raw socket; enough for PING and INFO, no client needed."""
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
    """All commands the Redis server has run so far (INFO commandstats, which counts the
    commands scripts run too), the INFO calls that read it aside."""
    text = redis_call(port, "INFO", "commandstats").decode(errors="replace")
    total = 0
    for line in text.splitlines():
        if line.startswith("cmdstat_") and not line.startswith("cmdstat_info:"):
            calls = line.split("calls=", 1)[1].split(",", 1)[0]
            total += int(calls)
    return total


@contextmanager
def redis_server(durable: bool = False, extra: tuple[str, ...] = ()) -> Iterator[int]:
    """A redis-server on a free port in a directory of its own; yields the port. ``durable``
    turns on the append-only file with ``appendfsync everysec``, as in production; ``extra``
    are more command-line settings (``--replicaof …``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if durable else []
    with tempfile.TemporaryDirectory(prefix="surge-redis-") as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory]
            + (persistence or ["--appendonly", "no"])
            + list(extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if redis_call(port, "PING").startswith(b"+PONG"):
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield port
        finally:
            stop_process(process, timeout=20)
