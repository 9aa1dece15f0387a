"""Background tasks survive any failure: logged once when they start failing and once when
they recover, retried with backoff, shown by /readyz; a dead or hung task fails /healthz.

Waiting is for conditions, with generous bounds; nothing here asserts on timing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

import pyqueue
from pyqueue.backends import BackendUnavailable
from pyqueue.backends.memory import MemoryBackend
from pyqueue.background import BackgroundTasks, Periodic
from pyqueue.server import STATE, create_app
from pyqueue.server.ticker import TickFailed, tick_all
from tests.helpers.api import OPENS_AT, Api, bearer, make_settings, room_table

FAILING = "background task failing; retrying with backoff"
RECOVERED = "background task recovered"


async def wait_until(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := condition()):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
    return value


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == text]


async def test_a_failing_step_is_logged_once_retried_and_logged_once_when_it_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:
            raise ConnectionError(f"attempt {calls} failed")

    caplog.set_level(logging.INFO, logger="pyqueue.tasks")
    task = Periodic("flaky", step, 0.001, max_backoff=0.01)
    task.start()
    try:
        await wait_until(lambda: task.health().state == "failing")
        health = task.health()
        assert health.last_error is not None and health.last_error.startswith("ConnectionError")
        # It goes on after the failures, and runs on afterwards.
        await wait_until(lambda: calls >= 10)
    finally:
        await task.stop()
    failing = messages(caplog, FAILING)
    assert len(failing) == 1
    assert failing[0].levelno == logging.ERROR and failing[0].exc_info is not None
    assert failing[0].__dict__["task"] == "flaky"
    recovered = messages(caplog, RECOVERED)
    assert len(recovered) == 1
    assert recovered[0].__dict__["failed_attempts"] == 5
    assert task.failures == 5
    health = task.health()
    assert health.state == "running" and health.last_error is None
    assert health.last_success_seconds_ago is not None


async def test_a_step_failing_for_ever_is_logged_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def step() -> None:
        raise RuntimeError("the disk is full")

    task = Periodic("broken", step, 0.001, max_backoff=0.002)
    task.start()
    try:
        await wait_until(lambda: task.failures >= 20)
    finally:
        await task.stop()
    assert len(messages(caplog, FAILING)) == 1
    assert messages(caplog, RECOVERED) == []
    assert task.health().state == "failing"
    assert task.health().last_error == "RuntimeError: the disk is full"


async def test_a_partial_failure_keeps_the_pace() -> None:
    """Backing off would take about 2**50 intervals to reach 50 attempts."""
    calls = 0

    class PartlyDone(Exception):
        backoff = False

    async def step() -> None:
        nonlocal calls
        calls += 1
        raise PartlyDone("one room of two failed")

    task = Periodic("partial", step, 0.001, max_backoff=1e9)
    task.start()
    try:
        await wait_until(lambda: calls >= 50)
    finally:
        await task.stop()
    health = task.health()
    assert health.state == "degraded" and health.serving and health.alive


async def test_a_task_failing_for_days_keeps_running() -> None:
    """Thousands of failures in a row (a Redis outage of hours, at the backoff cap) must not
    overflow the backoff: the task stays alive and recovers."""
    calls = 0

    class PartlyDone(Exception):
        backoff = False

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls <= 1500:
            raise PartlyDone("one room of two failed")
        if calls <= 1510:
            raise RuntimeError("every room failed")

    task = Periodic("long", step, 0.0001, max_backoff=0.0001)
    task.start()
    try:
        await wait_until(lambda: calls > 1510)
        await wait_until(lambda: task.health().state == "running")
    finally:
        await task.stop()
    assert task.failures == 1510


async def test_a_tick_failing_for_one_room_still_ticks_the_others() -> None:
    settings = make_settings([room_table("kiel"), room_table("husum")])
    clock = pyqueue.VirtualClock(OPENS_AT)

    class OneRoomBroken(MemoryBackend):
        async def tick(self, room: str) -> Any:
            if room == "kiel":
                raise BackendUnavailable("kiel's journal is broken")
            return await super().tick(room)

    backend = OneRoomBroken.from_settings(settings, clock)
    app = create_app(settings, backend, clock=clock, run_ticker=False)
    state = app[STATE]
    for room in ("kiel", "husum"):
        await backend.join(room, None, None)
    clock.advance(1)
    with pytest.raises(TickFailed) as failed:
        await tick_all(state)
    assert [room for room, _ in failed.value.failures] == ["kiel"]
    assert failed.value.backoff is False
    assert "kiel's journal is broken" in str(failed.value)
    assert (await backend.room_info("husum")).active == 1
    assert state.metrics.tick_errors == 1


async def test_stopping_ends_a_task_and_it_does_not_count_as_dead() -> None:
    tasks = BackgroundTasks()

    async def step() -> None:
        pass

    task = tasks.start("quiet", step, 0.001)
    await wait_until(lambda: task.health().last_success_seconds_ago is not None)
    await tasks.stop()
    assert task.health().state == "running"
    assert list(tasks) == []


class Outage(MemoryBackend):
    """The memory backend with a switchable outage of the room list: what a Redis outage
    looks like to the ticker."""

    down = False

    async def room_ids(self) -> list[str]:
        if self.down:
            raise BackendUnavailable("the state store is unavailable: connection refused")
        return await super().room_ids()


async def start_ticking(aiohttp_client: Any, backend: MemoryBackend | None = None) -> Api:
    """The app with its real background tasks running (the ticker ticks by itself)."""
    settings = make_settings(tick_interval_seconds=0.01)
    clock = pyqueue.VirtualClock(OPENS_AT)
    backend = backend or Outage.from_settings(settings, clock)
    app = create_app(settings, backend, clock=clock, clock_speed=1.0, run_ticker=True)
    client = await aiohttp_client(app)
    return Api(client=client, clock=clock, backend=backend, settings=settings)


async def readyz(api: Api) -> dict[str, Any]:
    response = await api.client.get("/readyz")
    body: dict[str, Any] = await response.json()
    body["http_status"] = response.status
    return body


async def test_the_ticker_survives_an_outage_and_admits_again(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api = await start_ticking(aiohttp_client)
    backend = api.backend
    assert isinstance(backend, Outage)
    # Before the fix the room list was read outside the ticker's error handling: the first
    # outage ended the ticker for good, and nobody was admitted again.
    backend.down = True
    joined = await api.join()
    ticker_failing = await _poll(api, lambda body: body["tasks"]["ticker"]["state"] == "failing")
    assert ticker_failing["http_status"] == 503 and ticker_failing["checks"]["tasks"] is False
    assert "connection refused" in ticker_failing["tasks"]["ticker"]["last_error"]
    # Alive though failing: no restart needed.
    response = await api.client.get("/healthz")
    assert response.status == 200
    await wait_until(lambda: backend.down and _ticker(api).failures >= 5)

    backend.down = False
    await _poll(api, lambda body: body["http_status"] == 200)
    status = await _poll_status(api, joined["ticket"])
    assert status["state"] == "admitted"
    assert len(messages(caplog, FAILING)) == 1
    assert len(messages(caplog, RECOVERED)) == 1
    text = await (await api.client.get("/metrics")).text()
    assert 'pyqueue_background_task_failures_total{task="ticker"}' in text
    assert 'pyqueue_background_task_up{task="ticker"} 1.0' in text


async def test_one_broken_room_does_not_take_the_node_out_of_service(
    aiohttp_client: Any,
) -> None:
    """On Redis a room whose tick fails would fail on every node at once: readiness must not
    drop every node for one room."""

    class OneRoomBroken(MemoryBackend):
        async def tick(self, room: str) -> Any:
            if room == "kiel":
                raise BackendUnavailable("kiel's journal is broken")
            return await super().tick(room)

    settings = make_settings([room_table("kiel"), room_table("husum")], tick_interval_seconds=0.01)
    api = await start_ticking(
        aiohttp_client, OneRoomBroken.from_settings(settings, pyqueue.VirtualClock(OPENS_AT))
    )
    body = await _poll(api, lambda b: b["tasks"]["ticker"]["state"] == "degraded")
    assert body["http_status"] == 200 and body["checks"]["tasks"] is True
    assert "kiel's journal is broken" in body["tasks"]["ticker"]["last_error"]


async def test_a_dead_task_fails_healthz(aiohttp_client: Any) -> None:
    api = await start_ticking(aiohttp_client)

    class Fatal(BaseException):
        """Not an ``Exception``: the one kind of failure the supervisor lets through."""

    async def step() -> None:
        raise Fatal

    task = api.state.tasks.start("doomed", step, 0.001)
    await wait_until(lambda: task.health().state == "dead")
    response = await api.client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unhealthy" and body["tasks"]["doomed"]["state"] == "dead"
    assert (await readyz(api))["http_status"] == 503


async def test_a_hung_step_fails_healthz(aiohttp_client: Any) -> None:
    api = await start_ticking(aiohttp_client)
    never = asyncio.Event()

    async def step() -> None:
        await never.wait()

    api.state.tasks.start("hung", step, 0.001, stuck_after=0.05)
    body = await wait_until_healthz(api, 503)
    assert body["tasks"]["hung"]["state"] == "stuck"
    never.set()
    await wait_until_healthz(api, 200)


async def test_readyz_lists_every_task_and_the_clock(aiohttp_client: Any, tmp_path: Any) -> None:
    settings = make_settings(tick_interval_seconds=0.01, data_dir=str(tmp_path))
    backend = MemoryBackend.from_settings(settings)
    api = await start_ticking(aiohttp_client, backend)
    body = await _poll(api, lambda b: b["http_status"] == 200)
    assert set(body["tasks"]) == {
        "ticker",
        "room-refresh",
        "rate-limit-prune",
        "journal",
        "retention",
    }
    assert all(task["state"] == "running" for task in body["tasks"].values())
    assert body["clock"]["source"] == "system" and body["checks"]["clock"] is True


def _ticker(api: Api) -> Periodic:
    return next(t for t in api.state.tasks if t.name == "ticker")


async def _poll(api: Api, condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for _ in range(6000):
        body = await readyz(api)
        if condition(body):
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"readyz never matched; last answer {body}")


async def _poll_status(api: Api, ticket: str) -> dict[str, Any]:
    for _ in range(6000):
        _, body = await api.json("GET", "/v1/rooms/kiel/status", 200, headers=bearer(ticket))
        api.client.session.cookie_jar.clear()
        if body["state"] == "admitted":
            return dict(body)
        await asyncio.sleep(0.01)
    raise AssertionError(f"never admitted; last status {body}")


async def wait_until_healthz(api: Api, status: int) -> dict[str, Any]:
    for _ in range(6000):
        response = await api.client.get("/healthz")
        if response.status == status:
            body: dict[str, Any] = await response.json()
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"/healthz never answered {status}")
