"""A room with a proof-of-work challenge, in a real browser: headless Chromium solves the
challenge in a Web Worker with Web Crypto and joins; without JavaScript, the page says that it
is needed and nobody joins. The difficulty is the documented minimum."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    ADMIN_TOKEN,
    BROWSER_MARKS,
    ServerProcess,
    browser,
    screenshot,
    text_of,
    view_of,
    wait_for,
)

pytestmark = BROWSER_MARKS

FLOOR = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory: Path = tmp_path_factory.mktemp("challenge-server")
    common = f"""
opens_at = "2021-05-10T07:00:00+02:00"
timezone = "Europe/Berlin"
challenge_max_number = {FLOOR}
"""
    config = f"""
[server]
admin_token = "{ADMIN_TOKEN}"
secrets = {{ k1 = "a-secret-of-the-browser-tests-0123456789" }}

[[rooms]]
id = "kiel"
{common}
[[rooms]]
id = "husum"
identity = "required"
{common}
"""
    path = directory / "pyqueue.toml"
    path.write_text(config, encoding="utf-8")
    process = ServerProcess(path, "2021-05-10T06:50:00+02:00")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _solved(server: ServerProcess) -> int:
    status, _ = server.request("GET", "/healthz")
    assert status == 200
    import urllib.request

    with urllib.request.urlopen(server.base_url + "/metrics", timeout=60) as answer:
        text = answer.read().decode()
    line = next(x for x in text.splitlines() if x.startswith("pyqueue_challenges_solved_total"))
    return int(float(line.split()[-1]))


def _ticket(driver: Any, room: str) -> Any:
    return driver.get_cookie(f"pyqueue_ticket_{room}")


def test_a_visitor_solves_the_challenge_and_joins(server: ServerProcess) -> None:
    before = _solved(server)
    with browser("en-GB") as visitor:
        visitor.get(f"{server.base_url}/rooms/kiel")
        # The page solves, shows it is done and sends the join by itself.
        wait_for(lambda: view_of(visitor) == "prequeue", "the pre-queue view after the work")
        assert _ticket(visitor, "kiel") is not None
        screenshot(visitor, "challenge-joined-en")
    assert _solved(server) == before + 1


def test_a_room_with_a_code_joins_once_the_code_is_sent(server: ServerProcess) -> None:
    from selenium.webdriver.common.by import By

    with browser("de-DE") as visitor:
        visitor.get(f"{server.base_url}/rooms/husum")
        assert view_of(visitor) == "challenge"
        assert "rechnet Ihr Gerät kurz" in text_of(visitor, "main")
        visitor.find_element(By.ID, "pq-identity").send_keys("REG-12345")
        visitor.find_element(By.CSS_SELECTOR, "#pq-challenge-form button").click()
        wait_for(lambda: view_of(visitor) == "prequeue", "the pre-queue view after the code")
        assert _ticket(visitor, "husum") is not None


def test_without_javascript_the_page_says_it_is_needed(server: ServerProcess) -> None:
    with browser("en-GB", javascript=False) as visitor:
        visitor.get(f"{server.base_url}/rooms/kiel")
        assert view_of(visitor) == "challenge"
        assert "needs JavaScript" in text_of(visitor, "main")
        # No work is going on, so no progress is shown either.
        assert "Calculating" not in text_of(visitor, "main")
        screenshot(visitor, "challenge-noscript-en")
        assert _ticket(visitor, "kiel") is None
