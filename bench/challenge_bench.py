"""What the proof-of-work challenge costs: the client's work per join and the server's per check.

    python -m bench.challenge_bench [--joins 20] [--difficulty 10000 100000]

- client: the page's own worker (``pyqueue/web/static/challenge-worker.js``) in headless
  Chromium, solving fresh challenges of each difficulty; median and 90th percentile seconds per
  join. Also the same worker's loop in Node (the same Web Crypto API), and hashlib in one
  Python thread, the lower bound of a native solver on this core (a GPU does thousands times
  more).
- server: ``verify_challenge`` on a solved challenge (HMAC and SHA-256 in the core), the whole
  HTTP-side check (base64, JSON, verify), and ``new_challenge``; microseconds per call.

Challenges hide a uniformly random number, so a join costs ``maxnumber / 2`` hashes on
average and up to ``maxnumber``: the spread between joins is wide by design.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import shutil
import statistics
import subprocess
import threading
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pyqueue
from pyqueue.server.challenge import decode
from pyqueue.web.assets import STATIC_DIR

SIGNER = pyqueue.Signer({"k1": "bench-secret-of-at-least-32-bytes!!"})
ROOM = "kiel"


def solve_in_python(challenge: dict[str, Any]) -> tuple[int, int]:
    """(number, hashes tried)."""
    salt = challenge["salt"].encode()
    target = bytes.fromhex(challenge["challenge"])
    for number in range(challenge["maxnumber"] + 1):
        if hashlib.sha256(salt + str(number).encode()).digest() == target:
            return number, number + 1
    raise AssertionError("unsolvable")


def payload(challenge: dict[str, Any], number: int) -> str:
    solution = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**solution, "number": number}).encode()).decode()


def server_costs(rounds: int = 20_000) -> dict[str, float]:
    challenge = pyqueue.new_challenge(SIGNER, ROOM, 10_000)
    number, _ = solve_in_python(challenge)
    solution = {**challenge, "number": number}
    sent = payload(challenge, number)
    now = int(time.time())

    def per_call(call: Any) -> float:
        best = min(timeit.repeat(call, number=rounds, repeat=5))
        return best / rounds * 1e6

    return {
        "verify_challenge (core)": per_call(
            lambda: pyqueue.verify_challenge(SIGNER, solution, ROOM, now)
        ),
        "decode + verify (the join's check)": per_call(
            lambda: pyqueue.verify_challenge(SIGNER, decode(sent), ROOM, now)
        ),
        "new_challenge (core)": per_call(lambda: pyqueue.new_challenge(SIGNER, ROOM, 100_000, now)),
    }


def python_hash_rate(seconds: float = 1.0) -> float:
    salt = b"00112233445566778899aabb?expires=1&room=kiel&kid=k1&"
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for n in range(10_000):
            hashlib.sha256(salt + str(n).encode()).digest()
        count += 10_000
    return count / (time.perf_counter() - start)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server() -> Iterator[str]:
    """The page's static files on loopback (a secure context, as Web Crypto needs)."""
    handler = partial(_Quiet, directory=str(STATIC_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


_SOLVE_IN_WORKER = """
const [url, challenge, done] = arguments;
const started = performance.now();
const worker = new Worker(url);
worker.onmessage = (event) => {
  if (event.data.progress !== undefined) return;
  worker.terminate();
  done({number: event.data.number, ms: performance.now() - started});
};
worker.postMessage(challenge);
"""


def chromium_times(difficulties: list[int], joins: int) -> dict[int, list[float]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"),
        options=options,
    )
    driver.set_script_timeout(600)
    times: dict[int, list[float]] = {}
    try:
        with static_server() as base:
            driver.get(base + "/page.css")  # any page of the origin
            for difficulty in difficulties:
                times[difficulty] = []
                for _ in range(joins):
                    challenge = pyqueue.new_challenge(SIGNER, ROOM, difficulty)
                    answer = driver.execute_async_script(
                        _SOLVE_IN_WORKER, base + "/challenge-worker.js", challenge
                    )
                    pyqueue.verify_challenge(
                        SIGNER, {**challenge, "number": answer["number"]}, ROOM
                    )
                    times[difficulty].append(answer["ms"] / 1000)
    finally:
        driver.quit()
    return times


_NODE_SOLVER = """
const {webcrypto} = require("node:crypto");
const challenge = JSON.parse(process.argv[1]);
const encoder = new TextEncoder();
const target = Buffer.from(challenge.challenge, "hex");
(async () => {
  const started = performance.now();
  for (let start = 0; start <= challenge.maxnumber; start += 512) {
    const jobs = [];
    const end = Math.min(challenge.maxnumber, start + 511);
    for (let n = start; n <= end; n++) {
      jobs.push(webcrypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + n)));
    }
    const digests = await Promise.all(jobs);
    for (let i = 0; i < digests.length; i++) {
      if (Buffer.from(digests[i]).equals(target)) {
        console.log(JSON.stringify({number: start + i, ms: performance.now() - started}));
        return;
      }
    }
  }
})();
"""


def node_times(difficulties: list[int], joins: int) -> dict[int, list[float]]:
    node = shutil.which("node")
    if node is None:
        return {}
    times: dict[int, list[float]] = {}
    for difficulty in difficulties:
        times[difficulty] = []
        for _ in range(joins):
            challenge = pyqueue.new_challenge(SIGNER, ROOM, difficulty)
            out = subprocess.run(
                [node, "-e", _NODE_SOLVER, json.dumps(challenge)],
                capture_output=True,
                text=True,
                check=True,
            )
            times[difficulty].append(json.loads(out.stdout)["ms"] / 1000)
    return times


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered):.2f} s, p90 {p90:.2f} s, max {ordered[-1]:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=20)
    parser.add_argument("--difficulty", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()

    print("server, per call:")
    for name, micros in server_costs().items():
        print(f"  {name}: {micros:.1f} µs")
    rate = python_hash_rate()
    print(f"hashlib in one Python thread: {rate / 1e6:.2f} M hashes/s")
    for difficulty in args.difficulty:
        print(
            f"  difficulty {difficulty}: {difficulty / 2 / rate * 1000:.1f} ms per join on average"
        )
    for name, measured in (
        ("Chromium (the page's worker)", chromium_times(args.difficulty, args.joins)),
        ("Node (the same loop)", node_times(args.difficulty, args.joins)),
    ):
        for difficulty, values in measured.items():
            print(f"{name}, difficulty {difficulty}, {len(values)} joins: {summary(values)}")


if __name__ == "__main__":
    main()
