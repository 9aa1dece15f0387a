"""What a Redis backend URL may be: the schemes ``server.backend`` accepts, and the parts of a
Redis Sentinel URL.

Kept apart from the Redis backend (which needs the Redis client) so that the configuration
checks a URL with the same rules the backend connects with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

SENTINEL_SCHEME: Final = "redis+sentinel://"
CLUSTER_SCHEME: Final = "redis+cluster://"
#: Every URL scheme of the Redis backend; anything else is not a backend this build knows.
REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://", CLUSTER_SCHEME, SENTINEL_SCHEME)

SENTINEL_FORM: Final = "redis+sentinel://[:password@]host:port[,host:port…]/service_name[/db]"


class RedisUrlError(ValueError):
    """A Redis URL that cannot work; the message says why."""


@dataclass(frozen=True)
class SentinelUrl:
    """``redis+sentinel://[[user]:password@]host:port[,host:port…]/service_name[/db]``.

    The sentinels are asked where the primary of ``service_name`` is; user and password are
    those of the Redis servers (the sentinels are reached without them).
    """

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def is_redis_url(url: str) -> bool:
    return url.startswith(REDIS_SCHEMES)


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of a Sentinel URL; raises :class:`RedisUrlError` naming what is wrong."""
    if not is_sentinel_url(url):
        raise RedisUrlError(f"a Sentinel URL starts with {SENTINEL_SCHEME}")
    rest = url.removeprefix(SENTINEL_SCHEME)
    if "?" in rest or "#" in rest:
        raise RedisUrlError(f"a Sentinel URL takes no query or fragment ({SENTINEL_FORM})")
    credentials, at, rest = rest.rpartition("@")
    username: str | None = None
    password: str | None = None
    if at:
        user, colon, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts, slash, path = rest.partition("/")
    parts = path.split("/") if slash else []
    if not parts or not parts[0] or len(parts) > 2:
        raise RedisUrlError(f"the service name is missing ({SENTINEL_FORM})")
    service = unquote(parts[0])
    db = 0
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise RedisUrlError(f"the database must be a number, got {parts[1]!r}")
        db = int(parts[1])
    sentinels = tuple(_host_port(item) for item in hosts.split(","))
    return SentinelUrl(sentinels, service, db, username, password)


def _host_port(item: str) -> tuple[str, int]:
    host, colon, port = item.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # an IPv6 address in brackets
    if not colon or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise RedisUrlError(f"each sentinel must be host:port, got {item!r} ({SENTINEL_FORM})")
    return host, int(port)
