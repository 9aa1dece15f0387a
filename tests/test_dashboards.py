"""The Grafana dashboard and the Prometheus alert rules in deploy/: they name only metrics a real
server exposes (memory and Redis), the rules parse, and each alert fires as its unit test says
(the real ``promtool``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pyqueue.server.metrics import ROOM_WIDE_METRICS
from tests.helpers.server import ROOT, Client, ServerProcess
from tests.redis_support import REDIS_SERVER, redis_server

DASHBOARD = ROOT / "deploy" / "grafana" / "pyqueue.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"

#: Metrics a memory server does not have: Redis's clock is measured on Redis only.
REDIS_ONLY = {"pyqueue_clock_offset_seconds"}

#: A metric name as the dashboard and the rules use it, with its label matchers if any.
_SELECTOR = re.compile(r"\b((?:pyqueue|process)_[a-z0-9_]+)\b(?:\{([^}]*)\})?")
_MATCHER = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def alert_queries() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def named_metrics() -> dict[str, set[str]]:
    """Every metric the dashboard and the rules name -> the labels they match it on."""
    named: dict[str, set[str]] = {}
    for query in dashboard_queries() + alert_queries():
        found = _SELECTOR.findall(query)
        # A query naming a metric of another prefix would escape this test.
        assert found, f"no pyqueue or process metric in {query!r}"
        for name, matchers in found:
            named.setdefault(name, set()).update(_MATCHER.findall(matchers))
    return named


def scrape(base_url: str) -> dict[str, list[dict[str, str]]]:
    """The exposed metric names (families and samples) -> the label sets of their samples."""
    answer = Client(base_url).request("GET", "/metrics")
    assert answer.status == 200, answer.body
    exposed: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        exposed.setdefault(family.name, [])
        if family.type == "counter":
            exposed.setdefault(family.name + "_total", [])
        for sample in family.samples:
            exposed.setdefault(sample.name, []).append(sample.labels)
    return exposed


def missing_from(exposed: dict[str, list[dict[str, str]]], backend: str) -> list[str]:
    missing = []
    for name, labels in sorted(named_metrics().items()):
        if backend == "memory" and name in REDIS_ONLY:
            continue
        if name not in exposed:
            missing.append(name)
        elif exposed[name] and not any(labels <= set(sample) for sample in exposed[name]):
            missing.append(f"{name} with labels {sorted(labels)}")
    return missing


def write_config(tmp_path: Path, backend: str) -> Path:
    opens = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    path = tmp_path / "pyqueue.toml"
    path.write_text(
        f"""[server]
backend = "{backend}"
secrets = {{ k1 = "a-secret-for-the-dashboard-tests!" }}

[[rooms]]
id = "kiel"
opens_at = "{opens}"
admit_per_minute = 600
max_active = 100
"""
    )
    return path


@pytest.fixture(params=["memory", "redis"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A real server on the memory backend (with its journal) or on a real Redis."""
    kind: str = request.param
    if kind == "memory":
        with ServerProcess(["--config", str(write_config(tmp_path, "memory"))]) as process:
            yield process, kind
        return
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make system-deps installs it)")
    with (
        redis_server(tmp_path / "redis") as redis,
        ServerProcess(["--config", str(write_config(tmp_path, redis.url))]) as process,
    ):
        yield process, kind


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_every_metric_the_dashboard_and_the_rules_name_is_exposed(
    server: tuple[ServerProcess, str],
):
    node, kind = server
    # Traffic that makes the labelled counters show: a join and a refused token.
    visitor = node.client()
    assert visitor.request("POST", "/v1/rooms/kiel/join", {}).status == 201
    refused = {"Authorization": "Bearer k1.not.a.ticket"}
    assert visitor.request("GET", "/v1/rooms/kiel/status", headers=refused).status == 401
    # The rooms' tick series show after the first tick.
    last_tick = 'pyqueue_tick_last_success_timestamp_seconds{room="kiel"}'
    wait_for(lambda: last_tick in metrics_text(node), "the first tick")
    exposed = scrape(node.base_url)
    assert not missing_from(exposed, kind)
    assert exposed["pyqueue_backend_up"] == [{"backend": kind}]
    assert ("pyqueue_clock_offset_seconds" in exposed) == (kind == "redis")
    assert abs(text_value(node.base_url, last_tick) - time.time()) < 60


def text_value(base_url: str, series: str) -> float:
    body = Client(base_url).request("GET", "/metrics").body.decode()
    match = re.search(rf"^{re.escape(series)} (\S+)$", body, flags=re.MULTILINE)
    assert match, f"{series} not in /metrics"
    return float(match.group(1))


@pytest.mark.slow
@pytest.mark.redis
def test_metrics_answer_while_redis_is_down(tmp_path: Path):
    """An outage shows as pyqueue_backend_up 0 and a stale tick, not as a failed scrape."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make system-deps installs it)")
    with redis_server(tmp_path / "redis") as redis:
        config = write_config(tmp_path, redis.url)
        with ServerProcess(["--config", str(config)]) as node:
            series = 'pyqueue_tick_last_success_timestamp_seconds{room="kiel"}'
            wait_for(lambda: 'backend_up{backend="redis"} 1.0' in metrics_text(node), "up")
            wait_for(lambda: series in metrics_text(node), "a first tick")
            before = text_value(node.base_url, series)
            redis.stop()
            wait_for(
                lambda: 'pyqueue_backend_up{backend="redis"} 0.0' in metrics_text(node),
                "the scrape to show Redis down",
            )
            wait_for(
                lambda: 'pyqueue_background_task_up{task="ticker"} 0.0' in metrics_text(node),
                "the ticker to show failing",
            )
            # The room's last tick stays where it was, so its age grows (the ticker-stuck alert).
            stale = text_value(node.base_url, series)
            assert stale >= before
            assert "pyqueue_http_requests_total" in metrics_text(node)
            time.sleep(0.5)
            assert text_value(node.base_url, series) == stale


def metrics_text(node: ServerProcess) -> str:
    answer = Client(node.base_url).request("GET", "/metrics")
    assert answer.status == 200, answer.body
    return answer.body.decode()


def promtool() -> str:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: `make system-deps` installs the prometheus package"
    return binary


def test_the_alert_rules_parse():
    checked = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_as_its_unit_test_says():
    tested = subprocess.run(
        [promtool(), "test", "rules", str(ALERT_TESTS)],
        capture_output=True,
        text=True,
        cwd=ALERT_TESTS.parent,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Every alert has a case in which it fires, and one in which it stays quiet.
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    checks = [
        check
        for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for check in case["alert_rule_test"]
    ]
    assert {check["alertname"] for check in checks if check["exp_alerts"]} == alerts
    assert {check["alertname"] for check in checks if not check["exp_alerts"]} == alerts


def test_the_dashboard_is_grafana_json():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"


def test_the_rooms_own_values_are_not_summed_over_processes():
    # On Redis every process shows the room's queue length, free slots and admissions: a sum
    # over the processes would show each room once per process.
    summed = [
        query
        for query in dashboard_queries() + alert_queries()
        if query.lstrip().startswith("sum")
        and ROOM_WIDE_METRICS.intersection(name for name, _ in _SELECTOR.findall(query))
    ]
    assert summed == []
