"""Fuzzing every route from /openapi.json against the real server: no answer may be a 500, and
every answer must match the document (status, content type, schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pyqueue.server import openapi_document
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "admin-token-for-the-fuzzing"
SERVICE_TOKEN = "service-token-for-the-fuzzing"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    opens = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    path: Path = tmp_path_factory.mktemp("fuzz") / "pyqueue.toml"
    path.write_text(
        f"""[server]
admin_token = "{ADMIN_TOKEN}"
service_token = "{SERVICE_TOKEN}"
secrets = {{ k1 = "a-secret-for-the-fuzz-tests!!!!!" }}

[[rooms]]
id = "kiel"
opens_at = "{opens}"
handoff_url = "https://book.example/go"
slots = [
  {{ id = "a1", group = "Kiel", starts_at = "2031-05-12T08:00:00+02:00" }},
  {{ id = "a2", group = "Kiel", starts_at = "2031-05-12T08:10:00+02:00" }},
]
"""
    )
    with ServerProcess(["--config", str(path), "--virtual-clock", "now"]) as server:
        yield server


@pytest.fixture(scope="module")
def tokens(live_server: ServerProcess) -> dict[str, str]:
    client = live_server.client()
    joined = client.request("POST", "/v1/rooms/kiel/join", {}).json()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    client.request("POST", "/v1/admin/clock", {"advance_seconds": 5}, admin)
    status = client.request(
        "GET", "/v1/rooms/kiel/status", headers={"Authorization": f"Bearer {joined['ticket']}"}
    ).json()
    assert status["pass"], status
    return {"ticket": joined["ticket"], "pass": status["pass"]}


# Built from the same data the server serves (checked below), so that collecting the tests
# needs no running server.
schema = schemathesis.openapi.from_dict(openapi_document(virtual_clock=True))


def test_the_server_serves_this_document(live_server: ServerProcess):
    served = live_server.client().request("GET", "/openapi.json").json()
    assert served == json.loads(json.dumps(openapi_document(virtual_clock=True)))


def credentials(path: str, method: str, tokens: dict[str, str]) -> dict[str, str]:
    """Real credentials for most calls, so the fuzzing reaches past the token checks."""
    if path.startswith("/v1/admin"):
        token = ADMIN_TOKEN
    elif path == "/v1/handoff/verify":
        token = SERVICE_TOKEN
    elif path.endswith(("/status", "/join", "/handoff")):
        token = tokens["ticket"]
    else:
        token = tokens["pass"]
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_route_breaks_or_strays_from_the_document(case, live_server, tokens):
    headers = dict(case.headers or {})
    if "Authorization" not in headers:
        headers.update(credentials(case.path, case.method, tokens))
    # The clock route is for tests: moving the clock would expire the fuzzer's own tokens.
    if case.path == "/v1/admin/clock" and case.method == "POST":
        headers["Authorization"] = "Bearer not-the-admin-token-at-all"
    response = case.call(base_url=live_server.base_url, headers=headers, timeout=30)
    case.validate_response(response, checks=CHECKS)
