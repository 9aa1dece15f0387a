"""The real server process: a visitor's whole way, the demo, protocol errors, shutdown."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.server import ROOT, Client, ServerProcess

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "admin-token-for-the-process"


def config(tmp_path: Path, opens: str | None = None, **room: object) -> Path:
    opens = opens or (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    extra = "".join(f"{k} = {v!r}\n" for k, v in room.items())
    path = tmp_path / "pyqueue.toml"
    path.write_text(
        f"""[server]
admin_token = "{ADMIN_TOKEN}"
secrets = {{ k1 = "a-secret-for-the-process-tests!!" }}

[[rooms]]
id = "kiel"
opens_at = "{opens}"
admit_per_minute = 600
max_active = 1
heartbeat_timeout_seconds = 120
{extra}slots = [
  {{ id = "a1", group = "Kiel 2021-05-12", starts_at = "2031-05-12T08:00:00+02:00" }},
  {{ id = "a2", group = "Kiel 2021-05-12", starts_at = "2031-05-12T08:10:00+02:00" }},
]
"""
    )
    return path


def poll_until(
    client: Client, predicate: Any, timeout: float = 60.0, room: str = "kiel"
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.request("GET", f"/v1/rooms/{room}/status")
        assert answer.status == 200, answer.body
        body: dict[str, Any] = answer.json()
        if predicate(body):
            return body
        assert time.monotonic() < deadline, body
        # As told by the server, but bounded: the test must not idle for long.
        time.sleep(min(body["poll_after_ms"] / 1000, 0.2))


def test_a_visitor_walks_from_join_to_cancel(tmp_path):
    with ServerProcess(["--config", str(config(tmp_path))]) as server:
        first, second = server.client(), server.client()
        joined = first.request("POST", "/v1/rooms/kiel/join", {})
        assert joined.status == 201 and joined.json()["state"] == "admitted"
        assert first.cookie("pyqueue_ticket_kiel") and first.cookie("pyqueue_pass_kiel")

        # The only session is taken: the second visitor waits, at the front.
        answer = second.request("POST", "/v1/rooms/kiel/join", {})
        assert answer.status == 201
        waiting = answer.json()
        assert waiting["state"] == "waiting" and waiting["ahead"] == 0
        assert int(answer.headers["Retry-After"]) >= 1
        reloaded = second.request("POST", "/v1/rooms/kiel/join", {}).json()
        assert reloaded["ticket_id"] == waiting["ticket_id"]

        # The first visitor is done; the ticker admits the second.
        assert first.request("POST", "/v1/rooms/kiel/complete").status == 200
        admitted = poll_until(second, lambda s: s["state"] == "admitted")
        assert admitted["pass"] == second.cookie("pyqueue_pass_kiel")

        slots = second.request("GET", "/v1/rooms/kiel/slots").json()
        assert [s["id"] for s in slots["slots"]] == ["a1", "a2"]
        hold = second.request("POST", "/v1/rooms/kiel/slots/a2/hold")
        assert hold.status == 201 and hold.json()["slot"] == "a2"
        booked = second.request("POST", "/v1/rooms/kiel/slots/a2/confirm")
        assert booked.status == 201
        code = booked.json()["code"]
        cancelled = server.client().request("POST", f"/v1/rooms/kiel/bookings/{code}/cancel")
        assert cancelled.status == 200 and cancelled.json()["state"] == "cancelled"

        metrics = server.client().request("GET", "/metrics").body.decode()
        assert 'pyqueue_bookings_total{room="kiel"} 1.0' in metrics
        assert 'pyqueue_cancellations_total{room="kiel"} 1.0' in metrics
    assert server.process is not None and server.process.returncode == 0
    messages = server.log_messages()
    assert messages.index("listening") < messages.index("shutting down") < messages.index("stopped")
    # No access log by default: nothing per request.
    assert not [m for m in messages if m == "request"]


def test_access_log_when_asked(tmp_path):
    with ServerProcess(["--config", str(config(tmp_path)), "--access-log"]) as server:
        server.client().request("GET", "/healthz")
        deadline = time.monotonic() + 30
        while not any(e.get("path") == "/healthz" for e in server.logs):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    entry = next(e for e in server.logs if e.get("path") == "/healthz")
    assert entry["status"] == 200 and entry["method"] == "GET"


def test_the_demo_room_without_a_config():
    with ServerProcess() as server:
        listening = next(e for e in server.logs if e["message"] == "listening")
        assert listening["demo"] is True
        # What to open: the log names the page, and the server's bare address leads there.
        assert listening["pages"] == [f"{server.base_url}/rooms/demo"]
        client = server.client()
        front = client.request("GET", "/")
        assert front.status == 302 and front.headers["Location"] == "/rooms/demo"
        room = client.request("GET", "/v1/rooms/demo").json()
        assert room["state"] == "open"
        assert len(room["groups"]) == 6 and all(g["free"] == 6 for g in room["groups"])
        admin = {"Authorization": f"Bearer {listening['admin_token']}"}
        answer = client.request("GET", "/v1/admin/rooms/demo", headers=admin)
        assert answer.status == 200
        config = answer.json()["config"]
        assert config["admit_per_minute"] == 60 and config["max_active"] == 50
        assert config["release_windows"] == ["Mon-Fri 07:00", "Mon-Fri 17:00"]
        assert config["timezone"] == "Europe/Berlin"
        joined = client.request("POST", "/v1/rooms/demo/join", {})
        assert joined.status == 201 and joined.json()["state"] in ("waiting", "admitted")
        poll_until(client, lambda s: s["state"] == "admitted", room="demo")


def test_a_virtual_clock_moves_only_when_told(tmp_path):
    path = config(tmp_path, opens="2021-05-10T07:00:00+02:00")
    args = [
        "--config",
        str(path),
        "--virtual-clock",
        "2021-05-10T04:00:00Z",
        "--virtual-clock-speed",
        "0",
    ]
    with ServerProcess(args) as server:
        client = server.client()
        joined = client.request("POST", "/v1/rooms/kiel/join", {}).json()
        assert joined["state"] == "prequeue" and joined["opens_in_seconds"] == 3600
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        moved = client.request("POST", "/v1/admin/clock", {"advance_seconds": 3601}, admin)
        assert moved.status == 200, moved.body
        status = poll_until(client, lambda s: s["state"] == "admitted")
        assert status["opens_in_seconds"] == 0


def test_protocol_errors_answer_json(tmp_path):
    with ServerProcess(["--config", str(config(tmp_path))]) as server:
        big = server.client().request("GET", "/healthz", headers={"X-Big": "a" * 20_000})
        assert big.status == 431
        assert big.json()["error"]["code"] == "header_too_large"
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            reply = b""
            while chunk := raw.recv(4096):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
        assert b'"code":"bad_request"' in body
        # Still serving.
        assert server.client().request("GET", "/healthz").status == 200


def test_a_bad_config_stops_the_start(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 'eighty'\n")
    server = ServerProcess(["--config", str(path)])
    with pytest.raises(RuntimeError, match=r"server\.port"):
        server.__enter__()
    assert server.process is not None and server.process.returncode == 2


def test_tls_and_secure_cookies(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    path = config(tmp_path)
    tls = '[server]\ntls_cert = "cert.pem"\ntls_key = "key.pem"\n'
    path.write_text(path.read_text().replace("[server]\n", tls))
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    server = ServerProcess(["--config", str(path)])
    # The helper checks readiness over plain HTTP; this server speaks TLS only, so it is
    # started by hand and asked over TLS.
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "server.py"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--config",
            str(path),
        ],
        cwd=ROOT,
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        listening = next(json.loads(line) for line in process.stderr if '"listening"' in line)
        assert listening["url"].startswith("https://") and listening["tls"] is True
        request = urllib.request.Request(
            f"https://127.0.0.1:{listening['port']}/v1/rooms/kiel/join", data=b"{}"
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            cookies = answer.headers.get_all("Set-Cookie")
        assert any(c.startswith("pyqueue_ticket_kiel=") and "Secure" in c for c in cookies)
    finally:
        process.terminate()
        process.wait(timeout=60)
        process.stderr.close()
