"""Helpers of the browser tests: the real server as a child process on loopback, on a virtual
clock that moves only when a test says so, and headless Chromium driven by Selenium.

Nothing here waits for a fixed time: every wait is for a condition, with a generous timeout,
so a loaded machine makes the tests slower, never red.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.helpers import server as helpers_server

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ADMIN_TOKEN = "admin-token-of-the-browser-tests"
#: Every wait for a condition ends after this long (seconds); a loaded machine gets time.
PATIENCE = 90.0
PHONE = (360, 780)
DESKTOP = (1280, 900)

T = TypeVar("T")


def browser_available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


#: The marks of a module of browser tests: slow, long-running, and only where a browser is
#: installed (`make test` installs one, so in CI they always run).
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not browser_available(), reason="needs chromium, chromedriver, selenium"),
]


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = PATIENCE) -> T:
    """Polls ``condition`` until it returns something truthy; fails naming ``what``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as exc:  # a page in the middle of a reload, a stale element
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error!r})")


class ServerProcess(helpers_server.ServerProcess):
    """The server with ``--config``, on a virtual clock stopped at ``clock_start``."""

    def __init__(self, config: Path, clock_start: str) -> None:
        super().__init__(
            ["--config", str(config), "--virtual-clock", clock_start, "--virtual-clock-speed", "0"]
        )

    def start(self) -> None:
        self.__enter__()

    # ----- HTTP, as a test harness (not as a browser) ----------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            with error:  # it holds the open answer
                return error.code, json.loads(error.read() or b"null")

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = self.request(method, path, body, ADMIN_TOKEN)
        assert status < 300, (status, answer)
        return answer

    def advance(self, seconds: float) -> None:
        """Moves the virtual clock (the server ticks every room right after)."""
        self.admin("POST", "/v1/admin/clock", {"advance_seconds": seconds})

    def join(self, room: str) -> str:
        """A visitor that is not a browser (an app); returns its ticket."""
        status, answer = self.request("POST", f"/v1/rooms/{room}/join", {})
        assert status in (200, 201), answer
        return str(answer["ticket"])


def chrome(lang: str, *, javascript: bool = True, size: tuple[int, int] = PHONE) -> Any:
    """A new headless Chromium (its own profile: a separate browser context) preferring
    ``lang``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--lang={lang}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(argument)
    prefs: dict[str, Any] = {"intl.accept_languages": lang}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PATIENCE)
    resize(driver, size)
    return driver


def resize(driver: Any, size: tuple[int, int]) -> None:
    """Emulates a viewport of ``size`` CSS pixels (a phone is 360 wide)."""
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def screenshot(driver: Any, name: str) -> Path:
    """The whole page (not only the viewport) as ``test-artifacts/web/<name>.png``."""
    import base64

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    content = metrics.get("cssContentSize") or metrics["contentSize"]
    viewport = metrics.get("cssLayoutViewport") or metrics["layoutViewport"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": viewport["clientWidth"],
                "height": max(content["height"], viewport["clientHeight"]),
                "scale": 1,
            },
        },
    )
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@contextmanager
def browser(lang: str, **kwargs: Any) -> Iterator[Any]:
    driver = chrome(lang, **kwargs)
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def view_of(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").get_attribute("data-view"))
