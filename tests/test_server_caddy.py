"""Caddy in front of a booking site, asking pyqueue's sidecar check with ``forward_auth``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pyqueue.server.caddy import caddy_sidecar_config
from tests.helpers.nginx import BookingSite, Caddy, caddy_binary, free_port
from tests.helpers.server import ROOT, Client, ServerProcess
from tests.test_server_nginx import AnswersUnavailable, admitted_visitor, pyqueue_config

pytestmark = [pytest.mark.caddy, pytest.mark.slow]

#: What a browser sends when it opens a page.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
#: What a script or the booking site's own fetch() sends.
API = {"Accept": "application/json"}


@contextmanager
def caddy_in_front(tmp_path: Path, pyqueue: str, booking: str) -> Iterator[str]:
    """The printed configuration in a real Caddy on a free loopback port; yields its URL."""
    port = free_port()
    site = caddy_sidecar_config(
        "kiel", pyqueue=pyqueue, booking=booking, site=f"http://127.0.0.1:{port}"
    )
    (tmp_path / "caddy").mkdir()
    with Caddy(site, tmp_path / "caddy") as caddy:
        caddy.wait_listening(port)
        yield f"http://127.0.0.1:{port}"


def test_caddy_lets_only_visitors_with_a_pass_through(tmp_path):
    caddy_binary()
    with (
        ServerProcess(["--config", str(pyqueue_config(tmp_path))]) as server,
        BookingSite() as site,
        caddy_in_front(tmp_path, f"127.0.0.1:{server.port}", f"127.0.0.1:{site.port}") as front,
    ):
        # A browser without a pass is sent to the waiting room, and gets its page there.
        browser = Client(front)
        answer = browser.request("GET", "/booking/start", headers=BROWSER)
        assert answer.status == 302, answer.body
        location = answer.headers["Location"]
        assert location.endswith("/rooms/kiel")
        page = browser.request("GET", "/rooms/kiel", headers=BROWSER)
        assert page.status == 200
        assert page.headers["Content-Type"].startswith("text/html")

        # Any other client gets the check's own answer: 401, JSON, the location named.
        script = Client(front).request("GET", "/booking/start", headers=API)
        assert script.status == 401, script.body
        assert script.headers["Content-Type"].startswith("application/json")
        assert script.json()["error"]["code"] == "token_missing"
        assert script.json()["error"]["location"] == location
        assert script.headers["Location"] == location
        assert Client(front).request("GET", "/booking/start").status == 401

        # With a pass, the booking site answers, told the ticket by the check only.
        visitor = Client(front)
        status = admitted_visitor(visitor)
        forged_ticket = {**BROWSER, "X-Pyqueue-Ticket": "somebody-else"}
        answer = visitor.request("GET", "/booking/start", headers=forged_ticket)
        assert answer.status == 200, answer.body
        assert answer.body.decode() == f"booking /booking/start ticket={status['ticket_id']}"
        assert visitor.request("GET", "/booking/pay?x=1", headers=API).status == 200

        # A pass of another room, or a forged one, does not open this site.
        other = Client(front)
        admitted_visitor(other, "husum")
        assert other.request("GET", "/booking/start", headers=BROWSER).status == 302
        forged = {**BROWSER, "Cookie": "pyqueue_pass_kiel=k1.AQIAAAAA.AAAAAAAAAAAAAAAAAAAAAA"}
        assert Client(front).request("GET", "/booking/", headers=forged).status == 302

        # Leaving ends the pass cookie: back to the waiting room.
        assert visitor.request("POST", "/v1/rooms/kiel/leave").status == 200
        assert visitor.request("GET", "/booking/start", headers=BROWSER).status == 302


def assert_fails_closed(front: str) -> None:
    """What a visitor without a pass meets while pyqueue cannot answer."""
    answer = Client(front).request("GET", "/booking/start", headers=BROWSER)
    assert answer.status == 503, answer.body
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"Waiting room unavailable, please retry" in answer.body


def test_when_pyqueue_is_stopped_caddy_fails_closed(tmp_path):
    caddy_binary()
    with BookingSite() as site:
        server = ServerProcess(["--config", str(pyqueue_config(tmp_path))]).__enter__()
        try:
            with caddy_in_front(
                tmp_path, f"127.0.0.1:{server.port}", f"127.0.0.1:{site.port}"
            ) as front:
                visitor = Client(front)
                admitted_visitor(visitor)
                assert visitor.request("GET", "/booking/start").status == 200
                server.stop()
                assert_fails_closed(front)
                # Nobody passes unchecked, not even with a pass.
                assert visitor.request("GET", "/booking/start").status == 503
                page = Client(front).request("GET", "/rooms/kiel", headers=BROWSER)
                assert page.status == 503 and b"please retry" in page.body
                api = Client(front).request("GET", "/v1/rooms/kiel", headers=API)
                assert api.status == 503 and api.json()["error"]["code"] == "unavailable"
                assert int(api.headers["Retry-After"]) > 0
        finally:
            server.stop()


def test_when_pyqueue_answers_5xx_caddy_fails_closed(tmp_path):
    caddy_binary()
    with (
        BookingSite() as site,
        AnswersUnavailable() as broken,
        caddy_in_front(tmp_path, f"127.0.0.1:{broken.port}", f"127.0.0.1:{site.port}") as front,
    ):
        assert_fails_closed(front)


def test_the_booking_sites_own_errors_pass_through(tmp_path):
    """Only pyqueue's failures show the waiting room's page: a booking site that is down is
    Caddy's plain 502, for its operators to see."""
    caddy_binary()
    with (
        ServerProcess(["--config", str(pyqueue_config(tmp_path))]) as server,
        caddy_in_front(tmp_path, f"127.0.0.1:{server.port}", f"127.0.0.1:{free_port()}") as front,
    ):
        visitor = Client(front)
        admitted_visitor(visitor)
        answer = visitor.request("GET", "/booking/start", headers=BROWSER)
        assert answer.status == 502
        assert b"Waiting room" not in answer.body


def test_the_readme_shows_the_generated_configuration():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```caddyfile\n(.*?)```", readme, flags=re.DOTALL)
    assert caddy_sidecar_config("kiel") in blocks


def test_bad_addresses_are_refused():
    with pytest.raises(ValueError, match="site"):
        caddy_sidecar_config("kiel", site="a.org {\nrespond 1")
    with pytest.raises(ValueError, match="pyqueue"):
        caddy_sidecar_config("kiel", pyqueue="127.0.0.1:8080 {")
