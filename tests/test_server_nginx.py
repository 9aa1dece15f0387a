"""nginx in front of a booking site, asking pyqueue's sidecar check on every request."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pyqueue.server.nginx import nginx_sidecar_config
from tests.helpers.nginx import BookingSite, Nginx, free_port, nginx_binary
from tests.helpers.server import ROOT, Client, ServerProcess

pytestmark = [pytest.mark.nginx, pytest.mark.slow]


def pyqueue_config(tmp_path: Path) -> Path:
    opens = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    path = tmp_path / "pyqueue.toml"
    path.write_text(
        f"""[server]
secrets = {{ k1 = "a-secret-for-the-nginx-tests!!!!" }}

[[rooms]]
id = "kiel"
opens_at = "{opens}"
admit_per_minute = 600
max_active = 100

[[rooms]]
id = "husum"
opens_at = "{opens}"
"""
    )
    return path


def admitted_visitor(client: Client, room: str = "kiel") -> dict[str, Any]:
    assert client.request("POST", f"/v1/rooms/{room}/join", {}).status == 201
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = client.request("GET", f"/v1/rooms/{room}/status").json()
        if status["state"] == "admitted":
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def test_nginx_lets_only_visitors_with_a_pass_through(tmp_path):
    nginx_binary()
    port = free_port()
    with (
        ServerProcess(["--config", str(pyqueue_config(tmp_path))]) as server,
        BookingSite() as site,
    ):
        snippet = nginx_sidecar_config(
            "kiel",
            pyqueue=f"127.0.0.1:{server.port}",
            booking=f"127.0.0.1:{site.port}",
            listen=f"127.0.0.1:{port}",
        )
        (tmp_path / "nginx").mkdir()
        with Nginx(snippet, tmp_path / "nginx") as nginx:
            nginx.wait_listening(port)
            front = f"http://127.0.0.1:{port}"

            stranger = Client(front)
            answer = stranger.request("GET", "/booking/start")
            assert answer.status == 302
            assert answer.headers["Location"].endswith("/rooms/kiel")

            visitor = Client(front)
            status = admitted_visitor(visitor)
            answer = visitor.request("GET", "/booking/start")
            assert answer.status == 200, answer.body
            assert answer.body.decode() == f"booking /booking/start ticket={status['ticket_id']}"

            # A pass of another room, or a forged one, does not open this site.
            other = Client(front)
            admitted_visitor(other, "husum")
            assert other.request("GET", "/booking/start").status == 302
            forged = Client(front)
            forged.request("GET", "/healthz")
            forged_headers = {"Cookie": "pyqueue_pass_kiel=k1.AQIAAAAA.AAAAAAAAAAAAAAAAAAAAAA"}
            assert forged.request("GET", "/booking/", headers=forged_headers).status == 302

            # Leaving ends the pass cookie: back to the waiting room.
            assert visitor.request("POST", "/v1/rooms/kiel/leave").status == 200
            assert visitor.request("GET", "/booking/start").status == 302


def test_the_readme_shows_the_generated_configuration():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", readme, flags=re.DOTALL)
    if not blocks:
        pytest.skip("the README has no nginx example yet")
    assert nginx_sidecar_config("kiel") in blocks
