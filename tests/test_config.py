"""The TOML configuration: the documented example, the environment, and every mistake named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import pyqueue
from pyqueue.backends import open_backend
from pyqueue.config import (
    ConfigError,
    load_settings,
    merged_room_config,
    parse_secrets,
    room_config_from_mapping,
    room_config_to_mapping,
    slots_from_csv,
)
from pyqueue.redis_url import parse_sentinel_url

EXAMPLE = """
[server]
host = "0.0.0.0"
port = 8080
backend = "memory"
admin_token = "an-admin-token-of-some-length"
service_token = "a-service-token-of-some-length"
secrets = { k2 = "the-newer-secret-of-32-bytes!!!!", k1 = "the-older-secret-of-32-bytes!!!!" }
data_dir = "./pyqueue-data"
public_url = "https://impfen.example"
trusted_proxy_header = "X-Forwarded-For"
join_rate_per_minute = 30

[[rooms]]
id = "kiel"
opens_at = 2021-05-10T07:00:00+02:00
admit_per_minute = 600
max_active = 500
session_seconds = 900
returned_slots = "windows"
release_windows = ["Mon-Fri 07:00", "Mon-Fri 17:00"]
timezone = "Europe/Berlin"
slots_file = "slots.csv"

[[rooms]]
id = "husum"
opens_at = "2021-05-10T08:00:00+02:00"
returned_slots = "waitlist"
handoff_url = "https://book.example/husum"
slots = [{ id = "h1", group = "Husum", starts_at = "2021-05-12T08:00:00+02:00" }]
"""

SLOTS_CSV = """id,group,starts_at
k1,Kiel 2021-05-12,2021-05-12T08:00:00+02:00
k2,Kiel 2021-05-12,2021-05-12T08:10:00+02:00
"""


def write(tmp_path: Path, text: str, name: str = "pyqueue.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_documented_example_loads(tmp_path):
    write(tmp_path, SLOTS_CSV, "slots.csv")
    settings = load_settings(write(tmp_path, EXAMPLE), env={})
    server = settings.server
    assert (server.host, server.port, server.backend) == ("0.0.0.0", 8080, "memory")
    assert list(server.secrets) == ["k2", "k1"]
    assert server.signer().key_ids == ["k2", "k1"]
    assert server.data_dir == tmp_path / "pyqueue-data"
    assert server.trusted_proxy_header == "X-Forwarded-For"
    assert server.join_rate_per_minute == 30.0
    assert not server.secrets_generated
    kiel, husum = settings.rooms
    assert kiel.config.id == "kiel" and kiel.config.release_windows == [
        "Mon-Fri 07:00",
        "Mon-Fri 17:00",
    ]
    assert kiel.config.opens_at.isoformat() == "2021-05-10T05:00:00+00:00"
    assert [s["id"] for s in kiel.slots] == ["k1", "k2"]
    assert husum.config.returned_slots == "waitlist"
    assert husum.config.handoff_url == "https://book.example/husum"
    assert [s["id"] for s in husum.slots] == ["h1"]


def test_the_environment_wins_over_the_file(tmp_path):
    write(tmp_path, SLOTS_CSV, "slots.csv")
    env = {
        "PYQUEUE_ADMIN_TOKEN": "admin-from-the-environment",
        "PYQUEUE_SERVICE_TOKEN": "service-from-the-environment",
        "PYQUEUE_SECRETS": "k9=a-secret-from-the-environment!!,k8=another-secret-from-the-env!!",
    }
    settings = load_settings(write(tmp_path, EXAMPLE), env=env, host="127.0.0.2", port=9)
    server = settings.server
    assert server.admin_token == "admin-from-the-environment"
    assert server.service_token == "service-from-the-environment"
    assert list(server.secrets) == ["k9", "k8"]
    assert (server.host, server.port) == ("127.0.0.2", 9)


def test_secrets_in_json_from_the_environment():
    assert parse_secrets('{"a": "x", "b": "y"}', "X") == {"a": "x", "b": "y"}
    with pytest.raises(ConfigError, match="X"):
        parse_secrets("{oops", "X")
    with pytest.raises(ConfigError):
        parse_secrets("novalue", "X")


def test_missing_secrets_are_generated_with_a_flag(tmp_path):
    settings = load_settings(write(tmp_path, "[server]\n"), env={})
    assert settings.server.secrets_generated
    assert len(next(iter(settings.server.secrets.values()))) >= 32
    assert settings.rooms == ()


def test_no_file_is_all_defaults():
    settings = load_settings(None, env={})
    assert settings.server.port == 8080 and settings.server.admin_token is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 70000\n", "port"),
        ("[server]\nport = '80'\n", "port"),
        ("[server]\nhots = 'x'\n", "hots"),
        ("[serve]\n", "serve"),
        ("[server]\nadmin_token = 'short'\n", "admin_token"),
        ("[server]\nsecrets = { k1 = 'short' }\n", "secrets"),
        ("[server]\nsecrets = {}\n", "secrets"),
        ("[server]\nbackend = 'postgres://x'\n", "backend"),
        ("[server]\ntick_interval_seconds = 0\n", "tick_interval"),
        ("[server]\njoin_rate_per_minute = -1\n", "join_rate"),
        ("[server]\nlog_level = 'loud'\n", "log_level"),
        ("[server]\ntls_cert = 'c.pem'\n", "tls"),
        ("[server]\ncookie_secure = 'yes'\n", "cookie_secure"),
        ("[server]\nmax_body_bytes = 0\n", "max_body_bytes"),
        (
            "[server]\nheader_timeout_seconds = 0.5\n",
            "header_timeout_seconds.*at least 1 and at most 300",
        ),
        ("[server]\nheader_timeout_seconds = 'soon'\n", "header_timeout_seconds"),
        ("[server]\nmax_connections = 0\n", "max_connections.*at least 1 and at most 1000000"),
        ("[server]\nmax_connections = 10.5\n", "max_connections must be an integer"),
        ("rooms = 5\n", "rooms"),
        ("[[rooms]]\nopens_at = 2021-05-10T07:00:00+02:00\n", "id"),
        ("[[rooms]]\nid = 'k'\n", "opens_at"),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00\n", "offset"),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10\n", "date"),
        ("[[rooms]]\nid = 'k'\nopens_at = 'today'\n", "RFC 3339"),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nmax_active = 0\n", "max_active"),
        (
            "[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nmax_active = -1\n",
            "max_active must be between 1 and",
        ),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nmax_active = 1.5\n", "integer"),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nprequeue = 'x'\n", "shuffle"),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\ncolour = 'x'\n", "colour"),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nrelease_windows = 'x'\n", "list"),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\ntimezone = 'Mars/X'\n", "Mars"),
        ("[[rooms]]\nid = 'k k'\nopens_at = 2021-05-10T07:00:00Z\n", "room id"),
        (
            "[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\n[[rooms]]\nid = 'k'\n"
            "opens_at = 2021-05-10T07:00:00Z\n",
            "twice",
        ),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nslots = [{ id = 'a' }]\n", "slots"),
        (
            "[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nslots_file = 'none.csv'\n",
            "none.csv",
        ),
        ("[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nhandoff_url = 'book'\n", "URL"),
        (
            "[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\n"
            'handoff_url = "https://a/ b"\n',
            "URL",
        ),
        ("this is not toml", "TOML"),
    ],
)
def test_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), env={})


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml", env={})


def test_slots_file_in_json(tmp_path):
    (tmp_path / "slots.json").write_text(
        '{"slots": [{"id": "a", "group": "g", "starts_at": "2021-05-12T08:00:00Z"}]}'
    )
    text = "[[rooms]]\nid = 'k'\nopens_at = 2021-05-10T07:00:00Z\nslots_file = 'slots.json'\n"
    settings = load_settings(write(tmp_path, text), env={})
    assert [s["id"] for s in settings.rooms[0].slots] == ["a"]


def test_csv_columns_in_any_order_and_errors():
    slots = slots_from_csv("starts_at,id,group\n2021-05-12T08:00:00Z,a,g\n", "x")
    assert slots == [{"id": "a", "group": "g", "starts_at": "2021-05-12T08:00:00Z"}]
    for text in ("", "id,group\n", "id,group,starts_at\na,b\n"):
        with pytest.raises(ConfigError):
            slots_from_csv(text, "x")


def test_room_settings_round_trip_and_partial_change():
    config = room_config_from_mapping(
        "kiel", {"opens_at": "2021-05-10T07:00:00+02:00", "max_active": 5, "seed": 7}
    )
    values = room_config_to_mapping(config)
    assert values["id"] == "kiel" and values["max_active"] == 5 and values["seed"] == 7
    assert values["opens_at"] == "2021-05-10T05:00:00+00:00"
    changed = merged_room_config(config, {"max_active": 9, "handoff_url": None})
    assert (changed.max_active, changed.seed, changed.opens_at) == (9, 7, config.opens_at)
    with pytest.raises(ConfigError, match="admit_per_minute"):
        merged_room_config(config, {"admit_per_minute": "fast"})


def test_the_memory_backend_is_built_from_the_settings():
    clock = pyqueue.VirtualClock("2021-05-10T05:00:00Z")
    memory = open_backend(load_settings(None, env={}), clock)
    assert memory.now() == pytest.approx(1620622800.0)


def test_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="backend"):
        load_settings(write(tmp_path, "[server]\nbackend = 'postgres://db/1'\n"), env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("redis_pool_size = 0", "server.redis_pool_size must be at least 1"),
        (
            "redis_pool_size = 10001",
            "server.redis_pool_size must be at least 1 and at most 10000, got 10001",
        ),
        ("redis_pool_size = 2.5", "server.redis_pool_size must be an integer"),
        ("redis_pool_timeout_seconds = 0", "server.redis_pool_timeout_seconds must be above 0"),
        ("redis_pool_timeout_seconds = 31", "server.redis_pool_timeout_seconds .* at most 30"),
        ("redis_wait_replicas = -1", "server.redis_wait_replicas must be at least 0"),
        (
            "redis_wait_replicas = 101",
            "server.redis_wait_replicas must be at least 0 and at most 100, got 101",
        ),
        ("redis_wait_timeout_ms = 0", "server.redis_wait_timeout_ms must be at least 1"),
        (
            "redis_wait_timeout_ms = 1001",
            "server.redis_wait_timeout_ms must be at least 1 and at most 1000, got 1001",
        ),
    ],
)
def test_redis_settings_out_of_range_are_refused_by_name(tmp_path, text, message):
    path = write(tmp_path, f"[server]\nbackend = 'redis://127.0.0.1:6379/0'\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, env={})


def test_redis_settings_and_their_defaults(tmp_path):
    server = load_settings(write(tmp_path, "[server]\nbackend = 'redis://h:1/0'\n"), env={}).server
    assert (server.redis_pool_size, server.redis_pool_timeout_seconds) == (50, 2.0)
    assert (server.wait_replicas(), server.redis_wait_timeout_ms) == (1, 500)
    text = (
        "[server]\nbackend = 'redis://h:1/0'\nredis_pool_size = 200\n"
        "redis_pool_timeout_seconds = 0.5\nredis_wait_replicas = 2\nredis_wait_timeout_ms = 50\n"
    )
    server = load_settings(write(tmp_path, text), env={}).server
    assert (server.redis_pool_size, server.redis_pool_timeout_seconds) == (200, 0.5)
    assert (server.wait_replicas(), server.redis_wait_timeout_ms) == (2, 50)
    cluster = "[server]\nbackend = 'redis+cluster://h:7000'\n"
    assert load_settings(write(tmp_path, cluster), env={}).server.wait_replicas() == 0
    with pytest.raises(ConfigError, match=r"server\.redis_wait_replicas must be 0 with a Redis"):
        load_settings(write(tmp_path, cluster + "redis_wait_replicas = 1\n"), env={})


def test_sentinel_urls(tmp_path):
    url = "redis+sentinel://:s%40cret@10.0.0.5:26379,[::1]:26380/pyq/2"
    server = load_settings(write(tmp_path, f"[server]\nbackend = '{url}'\n"), env={}).server
    assert server.backend == url
    parts = parse_sentinel_url(url)
    assert parts.sentinels == (("10.0.0.5", 26379), ("::1", 26380))
    assert (parts.service_name, parts.db, parts.password, parts.username) == (
        "pyq",
        2,
        "s@cret",
        None,
    )
    assert parse_sentinel_url("redis+sentinel://h:1/pyq").db == 0
    for bad, why in [
        ("redis+sentinel://h:1", "service name"),
        ("redis+sentinel://h:1/", "service name"),
        ("redis+sentinel://h/pyq", "host:port"),
        ("redis+sentinel://h:1,/pyq", "host:port"),
        ("redis+sentinel://h:99999/pyq", "host:port"),
        ("redis+sentinel://h:1/pyq/x", "database"),
        ("redis+sentinel://h:1/pyq?db=2", "query"),
    ]:
        with pytest.raises(ConfigError, match=f"server.backend: .*{why}"):
            load_settings(write(tmp_path, f"[server]\nbackend = '{bad}'\n"), env={})
