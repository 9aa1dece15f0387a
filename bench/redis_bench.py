"""Redis backend benchmark: status polls and joins per second with 1 and 2 server processes on
one Redis, against the memory backend with 1 process, in the same run; and the Redis commands
issued per status poll (everything the servers sent while only polls came in, ticks included).

    python -m bench.redis_bench [--duration 5] [--connections 32] [--json FILE]

Two processes listen on two ports here, each driven by its own wrk with half the connections;
the sums are reported. The machine is shared and noisy: compare the rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.procs import free_port, redis_commands, redis_server, request, wait_http

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-of-at-least-32-bytes!!"
ROOM = "bench"
AHEAD = 1000

JOIN_SCRIPT = """wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass
class Row:
    backend: str
    processes: int
    status_per_second: float
    joins_per_second: float
    redis_commands_per_status: float | None


def write_config(tmp: Path, backend: str) -> Path:
    opens = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    path = tmp / f"pyqueue-{abs(hash(backend))}.toml"
    path.write_text(
        f"""[server]
backend = "{backend}"
secrets = {{ k1 = "{SECRET}" }}
log_level = "info"

[[rooms]]
id = "{ROOM}"
opens_at = "{opens}"
admit_per_minute = 60
max_active = 1
session_seconds = 3600
heartbeat_timeout_seconds = 3600
"""
    )
    return path


@contextmanager
def server(config: Path) -> Iterator[str]:
    port = free_port()
    log = config.with_name(f"server-{port}.log")
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--config", str(config), "--port", str(port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/readyz")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            process.wait()
            print(f"the server on {config.name} did not stop:\n{log.read_text()[-3000:]}")


def waiting_ticket(base: str) -> str:
    """A ticket waiting behind AHEAD others (the first visitor takes the only session)."""
    ticket = ""
    for _ in range(AHEAD + 2):
        ticket = request(f"{base}/v1/rooms/{ROOM}/join", "POST", b"{}")["ticket"]
    status = request(f"{base}/v1/rooms/{ROOM}/status", Authorization=f"Bearer {ticket}")
    assert status["state"] == "waiting", status
    return str(ticket)


def wrk_all(urls: list[str], args: argparse.Namespace, extra: list[str]) -> tuple[float, int]:
    """Runs one wrk per URL at once; returns summed requests per second and requests."""
    per = max(1, args.connections // len(urls))
    runs = [
        subprocess.Popen(
            ["wrk", "-t1", f"-c{per}", f"-d{args.duration}s", *extra, url],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    rps, total = 0.0, 0
    for run in runs:
        out, _ = run.communicate()
        rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        total += int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        if "Non-2xx" in out:
            raise RuntimeError("errors during the benchmark:\n" + out)
    return rps, total


def measure(
    name: str, bases: list[str], args: argparse.Namespace, redis_port: int | None, tmp: Path
) -> Row:
    ticket = waiting_ticket(bases[0])
    status_urls = [f"{b}/v1/rooms/{ROOM}/status" for b in bases]
    before = redis_commands(redis_port) if redis_port else 0
    status_rps, polls = wrk_all(status_urls, args, ["-H", f"Authorization: Bearer {ticket}"])
    per_poll = (redis_commands(redis_port) - before) / polls if redis_port else None
    script = tmp / "join.lua"
    script.write_text(JOIN_SCRIPT)
    join_urls = [f"{b}/v1/rooms/{ROOM}/join" for b in bases]
    join_rps, _ = wrk_all(join_urls, args, ["-s", str(script)])
    return Row(name, len(bases), status_rps, join_rps, per_poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    for tool in ("wrk", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (make system-deps)", file=sys.stderr)
            return 2
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with server(write_config(tmp, "memory")) as base:
            rows.append(measure("memory", [base], args, None, tmp))
        for processes in (1, 2):
            with redis_server(durable=True) as port, ExitStack() as stack:
                subprocess.run(["redis-cli", "-p", str(port), "flushall"], check=True,
                               capture_output=True)  # fmt: skip
                config = write_config(tmp, f"redis://127.0.0.1:{port}/0")
                bases = [stack.enter_context(server(config)) for _ in range(processes)]
                rows.append(measure("redis", bases, args, port, tmp))
    print(f"{'backend':8} {'procs':>5} {'status/s':>10} {'joins/s':>9} {'cmds/poll':>10}")
    for row in rows:
        per = (
            "-" if row.redis_commands_per_status is None else f"{row.redis_commands_per_status:.4f}"
        )
        print(
            f"{row.backend:8} {row.processes:5} {row.status_per_second:10.0f} "
            f"{row.joins_per_second:9.0f} {per:>10}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
