"""HTTP load benchmark: pyqueue's status poll and sidecar check against a bare aiohttp + uvloop
handler and against nginx returning a constant, all driven by wrk in the same run.

The machine is shared and noisy, so the figures that count are the ratios measured side by
side: the status poll of a waiting visitor should reach 85 % of the bare handler's requests
per second, and the sidecar check 90 %. The targets run one after the other, each alone on
the CPU that wrk does not use when there are at least two, in rounds: every round runs every
target once, and a target's ratio is the median over the rounds of its requests/s over the
bare handler's in the same round, so that a quiet or a busy spell of the machine counts for
both sides of a ratio.

    python -m bench.http.run [--duration 5] [--connections 64] [--rounds 7] [--json FILE]
                             [--strict]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.procs import free_port, request, wait_http

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ADMIN_TOKEN = "bench-admin-token-0123456789"
SECRET = "bench-secret-of-at-least-32-bytes!!"
ROOM = "bench"
#: Visitors in front of the polling one, so its status is a real "waiting" answer.
AHEAD = 1000

TARGETS = {"status": 0.85, "check": 0.90}


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    #: CPU time the server spent per answered request, in microseconds (None: not measured).
    cpu_us_per_request: float | None


# ----------------------------------------------------------------------------- processes


def cpu_sets() -> tuple[list[str], list[str]]:
    """taskset prefixes for the servers and for wrk: separate CPUs when there are two."""
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return [], []
    return ["taskset", "-c", "0"], ["taskset", "-c", "1"]


@contextlib.contextmanager
def process(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (nginx's worker), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, ... utime is field 14 and stime 15 of the full line.
        own, parent = int(stat.parent.name), int(fields[1])
        if own == pid or parent == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def nginx_binary() -> str | None:
    for candidate in ("/usr/sbin/nginx", shutil.which("nginx")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def nginx_config(tmp: Path, port: int) -> Path:
    conf = tmp / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""{user}worker_processes 1;
error_log {tmp}/nginx-error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{{"state":"waiting","ahead":1000}}';
        }}
    }}
}}
"""
    )
    return conf


# ----------------------------------------------------------------------------- pyqueue set-up


def pyqueue_config(tmp: Path, port: int) -> Path:
    opens = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    conf = tmp / "pyqueue.toml"
    conf.write_text(
        f"""[server]
host = "127.0.0.1"
port = {port}
admin_token = "{ADMIN_TOKEN}"
secrets = {{ k1 = "{SECRET}" }}

[[rooms]]
id = "{ROOM}"
opens_at = "{opens}"
admit_per_minute = 60
max_active = 1
session_seconds = 3600
heartbeat_timeout_seconds = 3600
"""
    )
    return conf


def visitors(base: str) -> tuple[str, str]:
    """The pass of the one admitted visitor and the ticket of one waiting behind AHEAD others."""
    first = request(f"{base}/v1/rooms/{ROOM}/join", "POST", b"{}")
    assert first["state"] == "admitted", first
    ticket = ""
    for _ in range(AHEAD + 1):
        ticket = request(f"{base}/v1/rooms/{ROOM}/join", "POST", b"{}")["ticket"]
    status = request(f"{base}/v1/rooms/{ROOM}/status", Authorization=f"Bearer {ticket}")
    assert status["state"] == "waiting" and status["ahead"] == AHEAD, status
    return first["pass"], ticket


# ----------------------------------------------------------------------------- wrk

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(
    name: str,
    url: str,
    headers: list[str],
    args: argparse.Namespace,
    prefix: list[str],
    server_pid: int,
) -> Result:
    argv = [
        *prefix,
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
    ]
    for header in headers:
        argv += ["-H", header]
    cpu_before = cpu_seconds(server_pid)
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server_pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+) timeout"):
        found = re.search(pattern, out)
        if found:
            errors += int(found.group(1))
    per_request = cpu * 1e6 / requests if requests else None
    return Result(name, rps, p50, p99, errors, requests, per_request)


def best(results: list[Result]) -> Result:
    """The round with the most requests per second: its latencies are the least disturbed."""
    return max(results, key=lambda r: r.requests_per_second)


def paired_ratios(base: list[Result], target: list[Result]) -> tuple[float, float | None]:
    """The medians over the rounds of the target's requests/s over the base's, and of the
    base's CPU per request over the target's (what the first is on an idle machine)."""
    rps = [t.requests_per_second / b.requests_per_second for b, t in zip(base, target, strict=True)]
    cpu = [
        b.cpu_us_per_request / t.cpu_us_per_request
        for b, t in zip(base, target, strict=True)
        if b.cpu_us_per_request and t.cpu_us_per_request
    ]
    return statistics.median(rps), statistics.median(cpu) if cpu else None


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--rounds", type=int, default=7, help="runs per target; the ratios are medians over them"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--no-nginx", action="store_true")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a ratio is below its target"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (make system-deps)", file=sys.stderr)
        return 2
    server_cpu, wrk_cpu = cpu_sets()
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    nginx = None if args.no_nginx else nginx_binary()
    with tempfile.TemporaryDirectory(prefix="pyqueue-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ports = {"pyqueue": free_port(), "bare": free_port(), "nginx": free_port()}
        base = f"http://127.0.0.1:{ports['pyqueue']}"
        bare = f"http://127.0.0.1:{ports['bare']}/"
        with contextlib.ExitStack() as stack:
            pyqueue_proc = stack.enter_context(
                process(
                    [
                        *server_cpu,
                        python,
                        str(ROOT / "server.py"),
                        "--config",
                        str(pyqueue_config(tmp, ports["pyqueue"])),
                    ],
                    tmp / "pyqueue.log",
                    env,
                )
            )
            bare_proc = stack.enter_context(
                process(
                    [*server_cpu, python, str(HERE / "bare.py"), "--port", str(ports["bare"])],
                    tmp / "bare.log",
                    env,
                )
            )
            nginx_proc = None
            if nginx:
                conf = nginx_config(tmp, ports["nginx"])
                nginx_proc = stack.enter_context(
                    process(
                        [*server_cpu, nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                        tmp / "nginx.log",
                    )
                )
            wait_http(f"{base}/readyz")
            wait_http(bare)
            if nginx:
                wait_http(f"http://127.0.0.1:{ports['nginx']}/")
            pass_token, ticket = visitors(base)
            plan = [
                ("bare aiohttp", bare, [], bare_proc.pid),
                (
                    "status poll",
                    f"{base}/v1/rooms/{ROOM}/status",
                    [f"Authorization: Bearer {ticket}"],
                    pyqueue_proc.pid,
                ),
                (
                    "sidecar check",
                    f"{base}/v1/check?room={ROOM}",
                    [f"Cookie: pyqueue_pass_{ROOM}={pass_token}"],
                    pyqueue_proc.pid,
                ),
            ]
            if nginx_proc is not None:
                plan.append(
                    ("nginx constant", f"http://127.0.0.1:{ports['nginx']}/", [], nginx_proc.pid)
                )
            rounds: dict[str, list[Result]] = {name: [] for name, _, _, _ in plan}
            for _ in range(args.rounds):
                # Interleaved, so a slow spell of the machine hits every target alike.
                for name, url, headers, pid in plan:
                    rounds[name].append(wrk(name, url, headers, args, wrk_cpu, pid))
    results = {name: best(r) for name, r in rounds.items()}
    bare_rounds = rounds["bare aiohttp"]
    paired = {name: paired_ratios(bare_rounds, r) for name, r in rounds.items()}
    names = {"status": "status poll", "check": "sidecar check"}
    ratios = {key: paired[name][0] for key, name in names.items()}
    cpu_ratios = {key: paired[name][1] for key, name in names.items()}
    print(
        f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds; "
        "req/s and latencies of the best round, ratios the median over the rounds"
    )
    print(
        f"{'target':<16}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'CPU us/req':>12}{'ratio':>8}{'CPU ratio':>11}"
    )
    for name, result in results.items():
        ratio, cpu_ratio = paired[name]
        cpu = result.cpu_us_per_request
        print(
            f"{name:<16}{result.requests_per_second:>10,.0f}{result.p50_ms:>9.2f}"
            f"{result.p99_ms:>9.2f}{result.errors:>8}"
            f"{'-' if cpu is None else f'{cpu:.1f}':>12}{ratio:>8.0%}"
            f"{'-' if cpu_ratio is None else f'{cpu_ratio:.0%}':>11}"
        )
    print(
        "ratio: requests/s against the bare handler in the same round; CPU ratio: the bare "
        "handler's CPU per request over the target's (what the ratio is on an idle machine)"
    )
    ok = True
    for key, target in TARGETS.items():
        passed = ratios[key] >= target
        ok &= passed
        cpu_text = "" if cpu_ratios[key] is None else f", by CPU per request {cpu_ratios[key]:.1%}"
        print(
            f"{key}: {ratios[key]:.1%} of bare aiohttp{cpu_text} (target {target:.0%}) "
            f"{'ok' if passed else 'BELOW TARGET'}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "settings": vars(args) | {"json": str(args.json)},
                    "results": {k: asdict(v) for k, v in results.items()},
                    "ratios": ratios,
                    "cpu_ratios": cpu_ratios,
                    "targets": TARGETS,
                    "rounds": {k: [asdict(r) for r in v] for k, v in rounds.items()},
                },
                indent=2,
            )
        )
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
