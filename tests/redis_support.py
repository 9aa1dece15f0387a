"""Real Redis for the tests: ``redis-server`` on free loopback ports, in a temporary directory,
as one server, a primary with a replica, a primary and replica watched by three Redis
Sentinels, or a three-master Redis Cluster. Nothing is mocked.

Ports are picked by binding port 0 and releasing it; a clash with another process in between is
possible but rare, and shows as a start-up failure, not as a wrong result. Waiting is by polling
with generous deadlines, for a loaded two-core machine.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyqueue.surge.processes import stop_process

START_TIMEOUT = 60.0
REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")

needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process; ``stop`` and ``start`` again keep its port and data (AOF)."""

    def __init__(self, directory: Path, port: int | None = None, *extra: str) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.extra = list(extra)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        assert REDIS_SERVER is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                # Every write on disk before it is acknowledged: a restart loses no booking.
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None

    def kill(self) -> None:
        """Dies at once, as on a crash (the AOF written so far stays)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def redis_cluster(directory: Path) -> Iterator[list[RedisServer]]:
    """Three masters on loopback ports, slots assigned by ``redis-cli --cluster create``."""
    if REDIS_CLI is None:
        pytest.skip("redis-cli is not installed")
    nodes = []
    try:
        for index in range(3):
            node = RedisServer(
                directory / f"node{index}",
                free_cluster_port(),
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000",
            )  # fmt: skip
            nodes.append(node.start())
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not all(_cluster_ok(n.port) for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ready")
            time.sleep(0.1)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def _cluster_ok(port: int) -> bool:
    assert REDIS_CLI is not None
    out = subprocess.run(
        [REDIS_CLI, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=30
    )
    return "cluster_state:ok" in out.stdout


def redis_call(port: int, *words: str) -> str:
    """One command through ``redis-cli`` (servers and sentinels alike); its plain output."""
    assert REDIS_CLI is not None
    out = subprocess.run(
        [REDIS_CLI, "-p", str(port), *words], capture_output=True, text=True, timeout=30
    )
    return out.stdout


def wait_until(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)


def start_replica(directory: Path, primary: RedisServer) -> RedisServer:
    """A replica of ``primary``, returned once its initial copy is done."""
    # The primary sends its first copy at once, not after the default 5 s wait for more replicas.
    redis_call(primary.port, "config", "set", "repl-diskless-sync-delay", "0")
    # Its copy is in memory only: what a write waits for (WAIT) is the replica having it, and
    # the disk of a loaded test machine would only slow its acknowledgements down.
    replica = RedisServer(
        directory, None, "--replicaof", "127.0.0.1", str(primary.port), "--appendonly", "no"
    )
    replica.start()
    wait_until(
        lambda: "master_link_status:up" in redis_call(replica.port, "info", "replication"),
        "the replica's link to its primary",
    )
    return replica


SENTINEL_SERVICE = "pyq"


class SentinelServer:
    """One Redis Sentinel (``redis-server sentinel.conf --sentinel``) watching ``primary_port``.

    The times are short so that a failover takes seconds: the primary counts as down after
    ``down_after_ms`` without an answer."""

    def __init__(self, directory: Path, primary_port: int, down_after_ms: int = 1000) -> None:
        self.directory = directory
        self.port = free_port()
        self.primary_port = primary_port
        self.down_after_ms = down_after_ms
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SentinelServer:
        assert REDIS_SERVER is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "sentinel.conf"  # Sentinel rewrites it: its own file
        config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SENTINEL_SERVICE} 5000\n"
            f"sentinel parallel-syncs {SENTINEL_SERVICE} 1\n"
        )
        self.process = subprocess.Popen(
            [REDIS_SERVER, str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-sentinel did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def primary(self) -> int | None:
        """The port of the primary this sentinel names now."""
        words = redis_call(
            self.port, "sentinel", "get-master-addr-by-name", SENTINEL_SERVICE
        ).split()
        return int(words[1]) if len(words) == 2 else None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None


@dataclass
class SentinelSetup:
    primary: RedisServer
    replica: RedisServer
    sentinels: list[SentinelServer]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SENTINEL_SERVICE}/0"

    def primary_port(self) -> int | None:
        """The primary all sentinels agree on, or None while they do not."""
        named = {s.primary() for s in self.sentinels}
        return named.pop() if len(named) == 1 else None


@contextmanager
def redis_sentinels(directory: Path) -> Iterator[SentinelSetup]:
    """A primary, one replica and three sentinels (quorum 2) on loopback ports, returned once
    the sentinels know the replica and each other: ready to fail over."""
    if REDIS_CLI is None:
        pytest.skip("redis-cli is not installed")
    started: list[RedisServer | SentinelServer] = []
    try:
        primary = RedisServer(directory / "primary").start()
        started.append(primary)
        replica = start_replica(directory / "replica", primary)
        started.append(replica)
        sentinels = []
        for index in range(3):
            sentinel = SentinelServer(directory / f"sentinel{index}", primary.port).start()
            started.append(sentinel)
            sentinels.append(sentinel)
        for sentinel in sentinels:
            wait_until(
                lambda s=sentinel: (
                    "OK" in redis_call(s.port, "sentinel", "ckquorum", SENTINEL_SERVICE)
                    and len(redis_call(s.port, "sentinel", "replicas", SENTINEL_SERVICE).split())
                    > 0
                    and redis_call(s.port, "sentinel", "sentinels", SENTINEL_SERVICE).count("name")
                    == 2
                ),
                "the sentinels' view of the primary, its replica and each other",
            )
        yield SentinelSetup(primary, replica, sentinels)
    finally:
        for process in reversed(started):
            process.stop()
