"""nginx in front of a booking site, asking pyqueue's sidecar check on every request."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pyqueue.server.nginx import nginx_sidecar_config
from tests.helpers.nginx import BookingSite, Nginx, StubSite, free_port, nginx_binary
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


class AnswersUnavailable(StubSite):
    """Stands in for a pyqueue whose store is down: every request is a 503."""

    def answer(self, path: str, headers: Any) -> tuple[int, str, bytes]:
        return 503, "application/json", b'{"error":{"code":"unavailable","message":"store down"}}'


def assert_fails_as_chosen(front: str, mode: str) -> None:
    """What a visitor without a pass meets while pyqueue cannot answer."""
    answer = Client(front).request("GET", "/booking/start")
    if mode == "open":
        assert answer.status == 200, answer.body
        assert answer.body.decode() == "booking /booking/start ticket=None"
        return
    assert answer.status == 503, answer.body
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"Waiting room unavailable, please retry" in answer.body
    # The waiting room's own page says the same instead of nginx's 502.
    page = Client(front).request("GET", "/rooms/kiel")
    assert page.status == 503 and b"please retry" in page.body
    api = Client(front).request("GET", "/v1/rooms/kiel")
    assert api.status == 503 and api.json()["error"]["code"] == "unavailable"
    assert int(api.headers["Retry-After"]) > 0


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_when_pyqueue_is_stopped_nginx_fails_as_chosen(tmp_path, mode):
    nginx_binary()
    port = free_port()
    with BookingSite() as site:
        server = ServerProcess(["--config", str(pyqueue_config(tmp_path))]).__enter__()
        try:
            snippet = nginx_sidecar_config(
                "kiel",
                pyqueue=f"127.0.0.1:{server.port}",
                booking=f"127.0.0.1:{site.port}",
                listen=f"127.0.0.1:{port}",
                on_unavailable=mode,
            )
            (tmp_path / "nginx").mkdir()
            with Nginx(snippet, tmp_path / "nginx") as nginx:
                nginx.wait_listening(port)
                front = f"http://127.0.0.1:{port}"
                # While pyqueue answers, a stranger is sent to the waiting room in both modes.
                assert Client(front).request("GET", "/booking/start").status == 302
                server.stop()
                assert_fails_as_chosen(front, mode)
        finally:
            server.stop()


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_when_pyqueue_answers_5xx_nginx_fails_as_chosen(tmp_path, mode):
    nginx_binary()
    port = free_port()
    with BookingSite() as site, AnswersUnavailable() as broken:
        snippet = nginx_sidecar_config(
            "kiel",
            pyqueue=f"127.0.0.1:{broken.port}",
            booking=f"127.0.0.1:{site.port}",
            listen=f"127.0.0.1:{port}",
            on_unavailable=mode,
        )
        (tmp_path / "nginx").mkdir()
        with Nginx(snippet, tmp_path / "nginx") as nginx:
            nginx.wait_listening(port)
            answer = Client(f"http://127.0.0.1:{port}").request("GET", "/booking/start")
            if mode == "open":
                assert answer.status == 200, answer.body
            else:
                assert answer.status == 503, answer.body
                assert int(answer.headers["Retry-After"]) > 0
                assert b"please retry" in answer.body


def test_an_unknown_failure_mode_is_refused():
    with pytest.raises(ValueError, match="on_unavailable"):
        nginx_sidecar_config("kiel", on_unavailable="ajar")
