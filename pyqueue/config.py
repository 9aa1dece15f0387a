"""The server's configuration: a TOML file (see the README), overridden by the environment.

One table ``[server]`` and any number of ``[[rooms]]``. Secrets and tokens may also come from
``PYQUEUE_SECRETS``, ``PYQUEUE_ADMIN_TOKEN`` and ``PYQUEUE_SERVICE_TOKEN``, which win over the
file, so a file can be committed without them. Every mistake is reported as a
:class:`ConfigError` naming the setting, before anything starts.

Room settings are read by :func:`room_config_from_mapping`, which the admin API uses as well, so
a room created over HTTP accepts exactly what a config file accepts.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets as secrets_module
import ssl
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from pyqueue._core import (
    DuplicateSlot,
    EntryVerifier,
    InputRule,
    InvalidArgument,
    InvalidConfig,
    RoomConfig,
    Signer,
    check_slots,
    input_rules,
)

# Re-exported: the configuration's callers catch its errors from here.
from pyqueue.errors import ConfigError as ConfigError
from pyqueue.errors import Problems, unknown_settings
from pyqueue.redis_url import (
    RedisUrlError,
    is_cluster_url,
    is_redis_url,
    is_sentinel_url,
    parse_sentinel_url,
)
from pyqueue.web.appearance import look_from_mapping

ENV_SECRETS: Final = "PYQUEUE_SECRETS"
ENV_ADMIN_TOKEN: Final = "PYQUEUE_ADMIN_TOKEN"
ENV_SERVICE_TOKEN: Final = "PYQUEUE_SERVICE_TOKEN"

#: Admin and service tokens shorter than this are refused: they guard the whole room.
MIN_TOKEN_LENGTH: Final = 16

#: Where a config file's memory backend keeps its state unless ``data_dir`` says otherwise.
DEFAULT_DATA_DIR: Final = "pyqueue-data"
FSYNC_POLICIES: Final = ("always", "interval")


#: The documented range or character set of every room setting and id, as the core applies
#: them (see the README's table): shown in the OpenAPI document, never copied.
INPUT_RULES: Final[Mapping[str, InputRule]] = input_rules()


def text_rule(name: str) -> tuple[int, re.Pattern[str]]:
    """The longest text (in bytes) and the character set of an id or group, from the core."""
    rule = INPUT_RULES[name]
    assert rule.max_bytes is not None and rule.pattern is not None
    return rule.max_bytes, re.compile(rule.pattern)


#: The algorithms entry tokens may be pinned to (``server.entry_algorithm``).
ENTRY_ALGORITHMS: Final = ("EdDSA", "HS256")


# The settings of a room and the JSON/TOML type each takes. "time" is an RFC 3339 string with
# an offset (or a TOML offset date-time); a trailing "?" allows null / absence.
ROOM_FIELDS: Final[Mapping[str, str]] = {
    "opens_at": "time",
    "closes_at": "time?",
    "prequeue_opens_at": "time?",
    "admit_per_minute": "number",
    "max_active": "integer",
    "session_seconds": "integer",
    "heartbeat_timeout_seconds": "integer",
    "prequeue": "prequeue",
    "identity": "identity",
    "returned_slots": "returned_slots",
    "release_windows": "strings",
    "timezone": "string",
    "max_bookings_per_identity": "integer",
    "hold_seconds": "integer",
    "offer_seconds": "integer",
    "handoff_url": "string?",
    "seed": "integer?",
    "challenge_max_number": "integer",
    "retain_personal_data_hours": "integer",
}

ROOM_ENUMS: Final[Mapping[str, tuple[str, ...]]] = {
    "prequeue": ("shuffle", "fifo"),
    "identity": ("optional", "required", "entry"),
    "returned_slots": ("windows", "waitlist"),
}

# Settings of a room in a config file that are not part of RoomConfig.
_ROOM_FILE_ONLY: Final = frozenset({"id", "slots", "slots_file", "page"})

SLOT_COLUMNS: Final = ("id", "group", "starts_at")


@dataclass(frozen=True)
class Range:
    """The documented range of a numeric server setting (room settings have theirs in the core:
    ``INPUT_RULES``)."""

    minimum: float
    maximum: float
    integer: bool = True
    #: The minimum itself is refused (an interval must be above 0).
    above: bool = False

    def check(self, value: Any, where: str) -> Any:
        number = _integer(value, where, None) if self.integer else _number(value, where, None)
        low_ok = number > self.minimum if self.above else number >= self.minimum
        if not (low_ok and number <= self.maximum):
            low = "above" if self.above else "at least"
            raise ConfigError(
                f"{where} must be {low} {_plain(self.minimum)} and at most "
                f"{_plain(self.maximum)}, got {value!r}"
            )
        return number

    def describe(self) -> str:
        low = "above" if self.above else "at least"
        return f"{low} {_plain(self.minimum)}, at most {_plain(self.maximum)}"


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


_MIB: Final = 1024 * 1024
_HOUR: Final = 3600.0

#: Every numeric ``[server]`` setting but the port (see ``_port``) and its range: what a node
#: needs and no more.
SERVER_RANGES: Final[Mapping[str, Range]] = {
    "join_rate_per_minute": Range(0, 1_000_000, integer=False),
    "join_rate_burst": Range(1, 1_000_000),
    "code_rate_per_minute": Range(0, 1_000_000, integer=False),
    "code_rate_burst": Range(1, 1_000_000),
    "max_body_bytes": Range(1, _MIB),
    "max_admin_body_bytes": Range(1, 1024 * _MIB),
    "max_header_bytes": Range(1024, 64 * 1024),
    "snapshot_journal_bytes": Range(1, 64 * 1024 * _MIB),
    "keepalive_seconds": Range(0, _HOUR, integer=False),
    "body_timeout_seconds": Range(0, _HOUR, integer=False, above=True),
    "shutdown_timeout_seconds": Range(0, _HOUR, integer=False),
    # Shorter ticks would make the ticker a busy loop and admit nobody sooner.
    "tick_interval_seconds": Range(0.01, 10, integer=False),
    "fsync_interval_ms": Range(0, 60_000, integer=False, above=True),
    "snapshot_interval_seconds": Range(0, 24 * _HOUR, integer=False),
    # Redis itself takes 10,000 clients by default.
    # Long enough for a slow mobile link, short enough that slow-sending sockets cannot pile up.
    "header_timeout_seconds": Range(1, 300, integer=False),
    # Each connection needs a file descriptor (see ``ulimit -n``).
    "max_connections": Range(1, 1_000_000),
    "redis_pool_size": Range(1, 10_000),
    "redis_pool_timeout_seconds": Range(0, 30, integer=False, above=True),
    "redis_wait_replicas": Range(0, 100),
    # Below the 2 s after which Redis counts as lost.
    "redis_wait_timeout_ms": Range(1, 1_000),
}


@dataclass(frozen=True)
class ServerSettings:
    """The ``[server]`` table. Defaults are safe for a single node behind nothing."""

    host: str = "127.0.0.1"
    port: int = 8080
    backend: str = "memory"
    admin_token: str | None = None
    service_token: str | None = None
    #: Token keys by id, the first signs. Generated at start (with a warning) when not given.
    secrets: Mapping[str, str] = field(default_factory=dict)
    secrets_generated: bool = False
    #: Where the memory backend journals its rooms; None keeps state in memory only. A config
    #: file gets ``pyqueue-data`` beside it unless it says otherwise (``""``: memory only).
    data_dir: Path | None = None
    #: "always": every change is on disk before its answer. "interval": changes are synced
    #: every ``fsync_interval_ms``; bookings, cancellations and admin changes still before
    #: their answer.
    fsync: str = "always"
    fsync_interval_ms: float = 100.0
    #: A snapshot starts a new journal file this often, or once the journal file holds
    #: ``snapshot_journal_bytes``: a restart then replays little.
    snapshot_interval_seconds: float = 300.0
    snapshot_journal_bytes: int = 64 * 1024 * 1024
    #: Base URL of the public site, for the waiting-room location the sidecar answers with.
    public_url: str = ""
    #: Marks cookies Secure even without TLS here (TLS ends at a proxy in front).
    cookie_secure: bool = False
    #: A header set by a trusted proxy that carries the client address (e.g. X-Forwarded-For);
    #: unset, the peer address counts, so clients cannot choose their own address.
    trusted_proxy_header: str | None = None
    #: Joins per minute per client address; 0 turns the limit off. Off by default: behind a
    #: proxy whose header is not configured, every visitor would share the proxy's address.
    join_rate_per_minute: float = 0.0
    #: Joins one address may make at once. Sized for carrier-grade NAT, where hundreds of
    #: people share one public address and many of them join in the minute a room opens.
    join_rate_burst: int = 500
    #: Look-ups and cancels by booking code per minute per client address (API and pages);
    #: 0 turns the limit off. A person needs a few; guessing needs millions.
    code_rate_per_minute: float = 30.0
    code_rate_burst: int = 10
    max_body_bytes: int = 16 * 1024
    max_admin_body_bytes: int = 16 * 1024 * 1024
    max_header_bytes: int = 8190
    keepalive_seconds: float = 75.0
    #: A request head (request line and headers) must arrive within this, counted from the
    #: connection's start or, on a kept-alive connection, from the next request's first byte.
    header_timeout_seconds: float = 10.0
    #: Open connections per server process; more are answered 503 with Retry-After.
    max_connections: int = 1000
    body_timeout_seconds: float = 30.0
    shutdown_timeout_seconds: float = 10.0
    tick_interval_seconds: float = 0.1
    tls_cert: Path | None = None
    tls_key: Path | None = None
    access_log: bool = False
    log_level: str = "info"
    #: The Redis backend's connections per process; a command finding them all busy waits up
    #: to ``redis_pool_timeout_seconds`` for one, then counts as Redis being unavailable.
    redis_pool_size: int = 50
    redis_pool_timeout_seconds: float = 2.0
    #: Replicas that must have a hold, booking or cancel before it is answered (``WAIT``), at
    #: most as many as are connected to the primary. None: 1, and 0 on a Redis Cluster.
    redis_wait_replicas: int | None = None
    redis_wait_timeout_ms: int = 500

    #: The portal's keys for entry tokens by id (``[server.entry_keys]``): Ed25519 public keys
    #: for "EdDSA", shared secrets for "HS256". Every key verifies, so a rotation keeps the old
    #: key beside the new one. Needed by rooms with ``identity = "entry"``.
    entry_keys: Mapping[str, str] = field(default_factory=dict)
    #: The one algorithm entry tokens may be signed with: "EdDSA" (default) or "HS256".
    entry_algorithm: str = "EdDSA"

    def signer(self) -> Signer:
        return Signer(dict(self.secrets))

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of ``tls_cert`` and ``tls_key``, or None to serve plain HTTP."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        return _load_tls(self.tls_cert, self.tls_key)

    def entry_verifier(self) -> EntryVerifier | None:
        """The checker of the portal's entry tokens, or None when no entry key is configured."""
        if not self.entry_keys:
            return None
        return EntryVerifier(dict(self.entry_keys), self.entry_algorithm)

    def wait_replicas(self) -> int:
        """``redis_wait_replicas`` with its default applied."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        return 0 if is_cluster_url(self.backend) else 1


@dataclass(frozen=True)
class RoomSettings:
    """One ``[[rooms]]`` entry: the core's config plus the slots to load at start."""

    config: RoomConfig
    slots: tuple[Mapping[str, Any], ...] = ()
    #: The ``[rooms.page]`` table: the room's look on the waiting-room page.
    page: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    rooms: tuple[RoomSettings, ...] = ()
    source: Path | None = None


# ------------------------------------------------------------------------------------ loading


def load_settings(
    path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Settings:
    """Reads ``path`` (TOML), applies the environment, then ``host``/``port`` from the CLI."""
    env = os.environ if env is None else env
    if path is None:
        data: dict[str, Any] = {}
    else:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return settings_from_mapping(
        data,
        base_dir=path.parent if path else Path.cwd(),
        env=env,
        host=host,
        port=port,
        source=path,
    )


def settings_from_mapping(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    env: Mapping[str, str],
    host: str | None = None,
    port: int | None = None,
    source: Path | None = None,
) -> Settings:
    problems = Problems()
    unknown = set(data) - {"server", "rooms"}
    if unknown:
        problems.add(unknown_settings("unknown top-level setting(s)", unknown, ("server", "rooms")))
    server_data: dict[str, Any] = {}
    server = ServerSettings()
    with problems.check():
        server_data = _table(data.get("server", {}), "server")
        server = _server_settings(server_data, base_dir, env)
    if source is not None and "data_dir" not in server_data and server.backend == "memory":
        server = replace(server, data_dir=base_dir / DEFAULT_DATA_DIR)
    if host is not None:
        server = replace(server, host=host)
    if port is not None:
        with problems.check():
            server = replace(server, port=_port(port, "--port"))
    rooms_data = data.get("rooms", [])
    if not isinstance(rooms_data, list):
        problems.add("rooms must be an array of tables ([[rooms]])")
        rooms_data = []
    room_list: list[RoomSettings] = []
    for index, room_data in enumerate(rooms_data):
        with problems.check():
            room_list.append(_room_settings(room_data, index, base_dir))
    rooms = tuple(room_list)
    entry_rooms = [r.config.id for r in rooms if r.config.identity == "entry"]
    if entry_rooms and not server.entry_keys and "entry_keys" not in server_data:
        problems.add(
            f'room(s) {", ".join(entry_rooms)} have identity = "entry" and need the portal\'s '
            "keys in [server.entry_keys]"
        )
    ids = [r.config.id for r in rooms]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.add(f"room id(s) given twice: {', '.join(duplicates)}")
    problems.raise_any()
    return Settings(server=server, rooms=rooms, source=source)


def _server_settings(
    data: Mapping[str, Any], base_dir: Path, env: Mapping[str, str]
) -> ServerSettings:
    known = {f for f in ServerSettings.__dataclass_fields__ if f != "secrets_generated"}
    problems = Problems()
    unknown = set(data) - known
    if unknown:
        problems.add(unknown_settings("unknown setting(s) in [server]", unknown, known))
    defaults = ServerSettings()
    values: dict[str, Any] = {}
    for name in ("host", "backend", "public_url", "log_level"):
        if name in data:
            with problems.check():
                values[name] = _string(data[name], f"server.{name}")
    if "port" in data:
        with problems.check():
            values["port"] = _port(data["port"], "server.port")
    for name in ("cookie_secure", "access_log"):
        if name in data:
            with problems.check():
                values[name] = _bool(data[name], f"server.{name}")
    for name, limits in SERVER_RANGES.items():
        if name in data:
            with problems.check():
                values[name] = limits.check(data[name], f"server.{name}")
    for name in ("data_dir", "tls_cert", "tls_key"):
        if name in data:
            with problems.check():
                values[name] = base_dir / _string(data[name], f"server.{name}")
    if "data_dir" in values and not str(data["data_dir"]).strip():
        values["data_dir"] = None
    with problems.check():
        _check_tls(values)
    if "fsync" in data:
        with problems.check():
            fsync = _string(data["fsync"], "server.fsync")
            if fsync not in FSYNC_POLICIES:
                raise ConfigError(f"server.fsync must be 'always' or 'interval', got {fsync!r}")
            values["fsync"] = fsync
    if "trusted_proxy_header" in data:
        with problems.check():
            header = _string(data["trusted_proxy_header"], "server.trusted_proxy_header").strip()
            values["trusted_proxy_header"] = header or None
    log_level = str(values.get("log_level", defaults.log_level)).lower()
    if log_level not in ("debug", "info", "warning", "error"):
        problems.add("server.log_level must be debug, info, warning or error")
    values["log_level"] = log_level
    with problems.check():
        _check_backend(values.get("backend", defaults.backend))
        _redis_settings(values, values.get("backend", defaults.backend))

    for name, variable in (("admin_token", ENV_ADMIN_TOKEN), ("service_token", ENV_SERVICE_TOKEN)):
        with problems.check():
            token = env.get(variable) or (
                _string(data[name], f"server.{name}") if name in data else None
            )
            if token is not None:
                if len(token) < MIN_TOKEN_LENGTH:
                    raise ConfigError(f"{name} must be at least {MIN_TOKEN_LENGTH} characters")
                values[name] = token

    with problems.check():
        _secrets(data, env, values)
    with problems.check():
        _entry_settings(data, values)
    problems.raise_any()
    return ServerSettings(**values)


def _check_backend(backend: str) -> None:
    if backend != "memory" and not is_redis_url(backend):
        raise ConfigError(f"server.backend must be 'memory' or a redis:// URL, got {backend!r}")
    if is_sentinel_url(backend):
        try:
            parse_sentinel_url(backend)
        except RedisUrlError as exc:
            raise ConfigError(f"server.backend: {exc}") from None


def _check_tls(values: Mapping[str, Any]) -> None:
    """The certificate and key must exist and load as a pair: found out here, before the
    server creates its data folder, not as a bare "No such file or directory" after."""
    problems = Problems()
    if ("tls_cert" in values) != ("tls_key" in values):
        problems.add("server.tls_cert and server.tls_key go together")
    for name in ("tls_cert", "tls_key"):
        path = values.get(name)
        if path is not None and not path.is_file():
            problems.add(f"server.{name}: no such file: {path}")
    problems.raise_any()
    if "tls_cert" in values:
        try:
            _load_tls(values["tls_cert"], values["tls_key"])
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"server.tls_cert and server.tls_key: cannot load {values['tls_cert']} with "
                f"{values['tls_key']} as certificate chain and key ({exc})"
            ) from None


def _load_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _secrets(data: Mapping[str, Any], env: Mapping[str, str], values: dict[str, Any]) -> None:
    if env.get(ENV_SECRETS):
        keys = parse_secrets(env[ENV_SECRETS], ENV_SECRETS)
    elif "secrets" in data:
        keys = _secrets_table(data["secrets"])
    else:
        keys = {}
    if keys:
        values["secrets"] = keys
    else:
        # Tokens then do not survive a restart, which the memory backend's state does not either.
        values["secrets"] = {"k1": secrets_module.token_urlsafe(32)}
        values["secrets_generated"] = True
    try:
        Signer(values["secrets"])
    except (InvalidConfig, InvalidArgument) as exc:
        raise ConfigError(f"secrets: {exc}") from exc


def _entry_settings(data: Mapping[str, Any], values: dict[str, Any]) -> None:
    """``entry_keys`` and ``entry_algorithm``, checked by building the verifier."""
    algorithm = "EdDSA"
    if "entry_algorithm" in data:
        algorithm = _string(data["entry_algorithm"], "server.entry_algorithm")
        if algorithm not in ENTRY_ALGORITHMS:
            raise ConfigError(
                f"server.entry_algorithm must be {' or '.join(ENTRY_ALGORITHMS)}, got {algorithm!r}"
            )
        values["entry_algorithm"] = algorithm
    if "entry_keys" in data:
        keys = _secrets_table(data["entry_keys"], "server.entry_keys")
        try:
            EntryVerifier(keys, algorithm)
        except (InvalidConfig, InvalidArgument) as exc:
            detail = str(exc).removeprefix("invalid room configuration: ")
            raise ConfigError(f"server.{detail}") from exc
        values["entry_keys"] = keys


def _redis_settings(values: Mapping[str, Any], backend: str) -> None:
    """The ``redis_*`` rules beyond their ranges."""
    if values.get("redis_wait_replicas") and is_cluster_url(backend):
        raise ConfigError(
            "server.redis_wait_replicas must be 0 with a Redis Cluster (set "
            "min-replicas-to-write on its nodes instead)"
        )


def parse_secrets(text: str, where: str) -> dict[str, str]:
    """``{"k1": "…"}`` (JSON) or ``k1=…,k2=…``; the first key signs."""
    text = text.strip()
    if text.startswith("{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc}") from exc
        return _secrets_table(parsed, where)
    keys: dict[str, str] = {}
    for part in text.split(","):
        kid, sep, secret = part.strip().partition("=")
        if not sep or not kid.strip() or not secret:
            raise ConfigError(f"{where} must be 'kid=secret,kid=secret' or a JSON object")
        keys[kid.strip()] = secret
    return keys


def _secrets_table(value: Any, where: str = "server.secrets") -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where} must be a non-empty table of key id = secret")
    return {str(k): _string(v, f"{where}.{k}") for k, v in value.items()}


def _room_settings(data: Any, index: int, base_dir: Path) -> RoomSettings:
    where = f"rooms[{index}]"
    data = _table(data, where)
    if "id" not in data:
        raise ConfigError(f"{where}.id is missing")
    room_id = _string(data["id"], f"{where}.id")
    where = f"room {room_id!r}"
    problems = Problems()
    fields = {k: v for k, v in data.items() if k not in _ROOM_FILE_ONLY}
    config: RoomConfig | None = None
    with problems.check():
        config = room_config_from_mapping(room_id, fields, where=where, also_known=_ROOM_FILE_ONLY)
    slots: list[Mapping[str, Any]] = []
    if "slots" in data:
        with problems.check():
            slots.extend(slots_from_json(data["slots"], f"{where}.slots"))
    if "slots_file" in data:
        with problems.check():
            path = base_dir / _string(data["slots_file"], f"{where}.slots_file")
            slots.extend(slots_from_file(path, f"{where}.slots_file"))
    with problems.check():
        try:
            # The core's slot rules, so that `pyqueue check-config` reports a bad slot too.
            check_slots(slots)
        except (InvalidArgument, DuplicateSlot) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    page: dict[str, Any] = {}
    with problems.check():
        page = _table(data.get("page", {}), f"{where}.page")
        # Checked here too, so `pyqueue check-config` reports a bad look.
        look_from_mapping(page, f"{where}.page")
    problems.raise_any()
    assert config is not None
    return RoomSettings(config=config, slots=tuple(slots), page=page)


# ---------------------------------------------------------------------------- room settings


def room_config_from_mapping(
    room_id: str,
    data: Mapping[str, Any],
    *,
    where: str = "room",
    also_known: frozenset[str] = frozenset(),
) -> RoomConfig:
    """Builds a validated RoomConfig from JSON or TOML values; raises ConfigError naming every
    mistake. ``also_known``: the caller's own settings, offered for a misspelt name too."""
    problems = Problems()
    unknown = set(data) - set(ROOM_FIELDS)
    if unknown:
        problems.add(
            unknown_settings(f"unknown setting(s) of {where}", unknown, {*ROOM_FIELDS, *also_known})
        )
    if "opens_at" not in data:
        problems.add(f"{where}: opens_at is missing")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in ROOM_FIELDS:
            continue
        kind = ROOM_FIELDS[name]
        label = f"{where}: {name}"
        if kind.endswith("?"):
            if value is None:
                continue
            kind = kind[:-1]
        with problems.check():
            kwargs[name] = _room_value(kind, value, label)
    # The core's rules (ranges, times in order, windows, time zone) for every setting readable
    # here, reported with the mistakes above: the settings not readable are left out.
    for mistake in RoomConfig.mistakes(room_id, kwargs):
        problems.add(f"{where}: {mistake}")
    problems.raise_any()
    opens_at = kwargs.pop("opens_at")
    try:
        return RoomConfig(room_id, opens_at, **kwargs)
    except (InvalidConfig, InvalidArgument) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except (OverflowError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: a value is out of range ({exc})") from exc


def _room_value(kind: str, value: Any, label: str) -> Any:
    if kind == "time":
        return _time(value, label)
    if kind == "number":
        return _number(value, label, minimum=None)
    if kind == "integer":
        return _integer(value, label, minimum=None)
    if kind == "string":
        text = _string(value, label)
        if label.endswith("handoff_url"):
            _check_url(text, label)
        return text
    if kind == "strings":
        if not isinstance(value, list):
            raise ConfigError(f"{label} must be a list of strings")
        return [_string(v, label) for v in value]
    if kind in ROOM_ENUMS:
        text = _string(value, label)
        if text not in ROOM_ENUMS[kind]:
            raise ConfigError(f"{label} must be one of {', '.join(ROOM_ENUMS[kind])}")
        return text
    raise AssertionError(f"unhandled setting kind {kind}")


def room_config_to_mapping(config: RoomConfig) -> dict[str, Any]:
    """The settings of a room as JSON-ready values (times as RFC 3339 strings)."""
    values: dict[str, Any] = {"id": config.id}
    for name in ROOM_FIELDS:
        value = getattr(config, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        values[name] = value
    return values


def merged_room_config(current: RoomConfig, changes: Mapping[str, Any]) -> RoomConfig:
    """The current settings with ``changes`` applied (a partial update)."""
    values = room_config_to_mapping(current)
    values.pop("id")
    values.update(changes)
    return room_config_from_mapping(current.id, values)


# ------------------------------------------------------------------------------------- slots


def slots_from_json(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of ``{"id", "group", "starts_at"}`` objects, checked for shape."""
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of slots")
    slots = []
    for index, item in enumerate(value):
        label = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{label} must be a table with id, group, starts_at")
        extra = set(item) - set(SLOT_COLUMNS)
        missing = [c for c in SLOT_COLUMNS if c not in item]
        if extra or missing:
            raise ConfigError(f"{label} must have exactly id, group, starts_at")
        slots.append(
            {
                "id": _string(item["id"], f"{label}.id"),
                "group": _string(item["group"], f"{label}.group"),
                "starts_at": _time(item["starts_at"], f"{label}.starts_at"),
            }
        )
    return slots


def slots_from_csv(text: str, where: str) -> list[dict[str, Any]]:
    """CSV with a header row naming the columns id, group, starts_at (in any order)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError(f"{where}: the CSV is empty") from None
    except csv.Error as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    found = [h.strip().lower() for h in header]
    if sorted(found) != sorted(SLOT_COLUMNS):
        first = ",".join(header)
        shown = ascii(first[:40] + ("…" if len(first) > 40 else ""))
        raise ConfigError(
            f"{where}: the CSV's first line must be the header row {','.join(SLOT_COLUMNS)} "
            "(the columns in any order), and each line after it a slot, e.g. "
            f"Kiel-0800,Kiel 2021-05-12,2021-05-12T08:00:00+02:00; its first line is {shown}"
        )
    header = found
    columns = [header.index(c) for c in SLOT_COLUMNS]
    slots = []
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ConfigError(
                    f"{where}: line {reader.line_num} has {len(row)} fields, not {len(header)}"
                )
            slot_id, group, starts_at = (row[i].strip() for i in columns)
            slots.append({"id": slot_id, "group": group, "starts_at": starts_at})
    except csv.Error as exc:
        raise ConfigError(f"{where}: line {reader.line_num}: {exc}") from exc
    return slots


def slots_from_file(path: Path, where: str) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: {path} is not UTF-8") from exc
    if path.suffix.lower() == ".json":
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{where}: {path} is not valid JSON: {exc}") from exc
        if isinstance(data, dict) and "slots" in data:
            data = data["slots"]
        return slots_from_json(data, where)
    return slots_from_csv(text, where)


# ---------------------------------------------------------------------------- value checks


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value


def _integer(value: Any, where: str, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where} must be at least {minimum}")
    return value


def _number(value: Any, where: str, minimum: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{where} must be a finite number")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where} must be at least {minimum}")
    return float(value)


def _check_url(text: str, where: str) -> None:
    # The URL ends up in a Location header: only a plain absolute http(s) URL will do.
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(c.isspace() or not c.isprintable() for c in text)
    ):
        raise ConfigError(f"{where} must be an absolute http(s) URL")


def _port(value: Any, where: str) -> int:
    port = _integer(value, where, minimum=0)
    if port > 65535:
        raise ConfigError(f"{where} must be a port number (0 to 65535)")
    return port


def _time(value: Any, where: str) -> datetime | str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{where} needs a UTC offset (e.g. 2021-05-10T07:00:00+02:00)")
        return value
    if isinstance(value, date | time):
        raise ConfigError(f"{where} must be a date and time with offset, not only a date or time")
    if isinstance(value, str):
        # The core parses RFC 3339 itself; checked here only for a message naming the setting.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{where} must be an RFC 3339 time with offset") from None
        if parsed.tzinfo is None:
            raise ConfigError(f"{where} needs a UTC offset (e.g. 2021-05-10T07:00:00+02:00)")
        return value
    raise ConfigError(f"{where} must be an RFC 3339 time with offset")


def describe_settings(settings: Settings) -> dict[str, Any]:
    """What the server runs with, without secrets: for the start-up log line."""
    server = settings.server
    return {
        "host": server.host,
        "port": server.port,
        "backend": server.backend,
        "rooms": [r.config.id for r in settings.rooms],
        "key_ids": list(server.secrets),
        "admin_api": server.admin_token is not None,
        "service_api": server.service_token is not None,
        "tls": server.tls_cert is not None,
        "data_dir": str(server.data_dir) if server.data_dir is not None else None,
        "fsync": server.fsync if server.data_dir is not None else None,
    }


__all__: Sequence[str] = (
    "ConfigError",
    "RoomSettings",
    "ServerSettings",
    "Settings",
    "describe_settings",
    "load_settings",
    "merged_room_config",
    "parse_secrets",
    "room_config_from_mapping",
    "room_config_to_mapping",
    "settings_from_mapping",
    "slots_from_csv",
    "slots_from_file",
    "slots_from_json",
)
