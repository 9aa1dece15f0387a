"""The Redis connection of a backend: a single server, a primary found through Redis Sentinel, or
a Redis Cluster; the scripts registered on it; the translation of lost connections and failover
replies into :class:`BackendUnavailable`; and writes that wait for replicas (``WAIT``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import (
    ClusterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from pyqueue.backends import BackendUnavailable
from pyqueue.backends.redis_backend import scripts
from pyqueue.config import ServerSettings
from pyqueue.redis_url import CLUSTER_SCHEME, is_cluster_url, is_sentinel_url, parse_sentinel_url

#: A command that takes longer than this counts as Redis being unavailable.
COMMAND_TIMEOUT_SECONDS: Final = 2.0

#: Error replies that say "not now" rather than "no": a primary demoted to a replica
#: (READONLY), a replica without its primary (MASTERDOWN), too few replicas for
#: ``min-replicas-to-write`` (NOREPLICAS), a script running too long (BUSY), a cluster
#: resharding or down, Redis out of memory. A retry may succeed: 503, not 500.
_UNAVAILABLE_REPLIES: Final = (ReadOnlyError, ClusterDownError, TryAgainError, OutOfMemoryError)
_UNAVAILABLE_CODES: Final = frozenset({"NOREPLICAS", "MASTERDOWN", "BUSY", "UNBLOCKED"})


@dataclass(frozen=True)
class RedisOptions:
    """How a backend uses its Redis (the ``redis_*`` settings of ``[server]``)."""

    pool_size: int = ServerSettings.redis_pool_size
    pool_timeout_seconds: float = ServerSettings.redis_pool_timeout_seconds
    #: Replicas a hold, booking or cancel waits for, at most as many as are connected.
    wait_replicas: int = 1
    wait_timeout_ms: int = ServerSettings.redis_wait_timeout_ms

    @classmethod
    def from_settings(cls, server: ServerSettings) -> RedisOptions:
        return cls(
            pool_size=server.redis_pool_size,
            pool_timeout_seconds=server.redis_pool_timeout_seconds,
            wait_replicas=server.wait_replicas(),
            wait_timeout_ms=server.redis_wait_timeout_ms,
        )


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The primary's connections, found through Sentinel, in a pool that makes a command wait
    for a free connection (redis-py's Sentinel pool fails at once when all are busy)."""


def connect(url: str, options: RedisOptions, cluster: bool = False) -> Connection:
    """The connection for ``redis://…`` (one server), ``redis+sentinel://…`` (the primary of a
    Sentinel-monitored service, followed through failovers) or ``redis+cluster://host:port``
    (any node of a cluster; the others are discovered). Reconnection is redis-py's: every
    command opens a connection again when the pool has none that works."""
    sockets: dict[str, Any] = {
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        "socket_connect_timeout": COMMAND_TIMEOUT_SECONDS,
    }
    if cluster or is_cluster_url(url):
        plain = "redis://" + url.removeprefix(CLUSTER_SCHEME)
        # RedisCluster has no blocking pool: the connection's gate makes commands wait instead.
        client = RedisCluster.from_url(plain, max_connections=options.pool_size, **sockets)
        return Connection(client, options, gate=asyncio.Semaphore(options.pool_size))
    pooling: dict[str, Any] = {
        "max_connections": options.pool_size,
        "timeout": options.pool_timeout_seconds,
        "health_check_interval": 10,
    }
    if is_sentinel_url(url):
        parts = parse_sentinel_url(url)
        sentinel = Sentinel(list(parts.sentinels), sentinel_kwargs=sockets, **sockets)
        primary = sentinel.master_for(
            parts.service_name,
            connection_pool_class=BlockingSentinelPool,
            db=parts.db,
            username=parts.username,
            password=parts.password,
            **pooling,
        )
        return Connection(primary, options, also_close=sentinel.aclose)
    pool = BlockingConnectionPool.from_url(url, **pooling, **sockets)
    return Connection(Redis.from_pool(pool), options)


def raise_if_cancelled() -> None:
    """Raises the cancellation of the current task if the client swallowed it.

    A command interrupted by the cancellation of its task (the ticker at shutdown) can come
    back from the client as a result or as a connection error; the task would then go on
    running and the shutdown would wait for it forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def unavailable(error: RedisError | str) -> BackendUnavailable:
    """The error for a failed command; a cancellation stays a cancellation."""
    raise_if_cancelled()
    return BackendUnavailable(f"the state store is unavailable: {error}")


def is_unavailable_reply(error: ResponseError) -> bool:
    """Whether an error reply means Redis cannot take the command now (see above)."""
    return isinstance(error, _UNAVAILABLE_REPLIES) or (
        getattr(error, "status_code", None) in _UNAVAILABLE_CODES
        or str(error).split(" ", 1)[0] in _UNAVAILABLE_CODES
    )


class Connection:
    """The client and the room scripts; every call maps Redis failures to the core's errors."""

    def __init__(
        self,
        client: Redis | RedisCluster,
        options: RedisOptions | None = None,
        *,
        gate: asyncio.Semaphore | None = None,
        also_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.options = options or RedisOptions()
        self._gate = gate
        self._also_close = also_close
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(scripts.source(name)) for name in scripts.SCRIPT_NAMES
        }

    @property
    def is_cluster(self) -> bool:
        return isinstance(self.client, RedisCluster)

    @contextlib.asynccontextmanager
    async def _mapped(self, scripted: bool = False) -> AsyncIterator[None]:
        """Waits for a free connection where the client cannot (a cluster), and maps Redis
        failures: to :class:`BackendUnavailable`, or a script's reply to the core's error."""
        if self._gate is not None:
            try:
                async with asyncio.timeout(self.options.pool_timeout_seconds):
                    await self._gate.acquire()
            except TimeoutError:
                raise unavailable("no Redis connection became free in time") from None
        try:
            yield
        except ResponseError as error:
            if is_unavailable_reply(error):
                raise unavailable(error) from error
            if scripted:
                raise scripts.translate(error) from None
            raise
        except (RedisError, OSError) as error:
            raise unavailable(str(error)) from error
        finally:
            if self._gate is not None:
                self._gate.release()

    async def run(self, name: str, meta_key: str, args: Sequence[str | int | float]) -> Any:
        """Runs a room script; its error replies become the core's exceptions."""
        async with self._mapped(scripted=True):
            result = await self._scripts[name](keys=[meta_key], args=list(args))
        raise_if_cancelled()
        return result

    async def run_replicated(
        self, name: str, meta_key: str, args: Sequence[str | int | float], replicas: int
    ) -> Any:
        """Runs a room script and answers once ``replicas`` replicas have its writes.

        ``WAIT`` covers the writes of the connection it is sent on, so the script and ``WAIT``
        go in one pipeline (one connection, one round trip). A script that repeats an earlier
        answer writes its record again, so that ``WAIT`` covers it too. Too few replicas
        within the timeout: :class:`BackendUnavailable` (the write may have been applied; its
        repetition answers the same).
        """
        if replicas <= 0 or self.is_cluster:
            return await self.run(name, meta_key, args)
        script = self._scripts[name]
        timeout_ms = self.options.wait_timeout_ms
        async with self._mapped(scripted=True):
            for _ in range(2):
                pipe = self.client.pipeline(transaction=False)
                pipe.execute_command("EVALSHA", script.sha, 1, meta_key, *args)
                pipe.execute_command("WAIT", replicas, timeout_ms)
                result, acknowledged = await pipe.execute(raise_on_error=False)
                if isinstance(result, NoScriptError):
                    # A new primary after a failover, or a restarted one: load and send again.
                    await self.client.script_load(script.script)
                    continue
                if isinstance(result, Exception):
                    raise result
                if isinstance(acknowledged, Exception):
                    raise acknowledged
                if int(acknowledged) < replicas:
                    raise ReplicasBehind(
                        f"{acknowledged} of {replicas} replicas acknowledged the write within "
                        f"{timeout_ms} ms; it may have been applied: repeat it to learn"
                    )
                break
            else:
                raise unavailable("the script could not be loaded")
        raise_if_cancelled()
        return result

    async def call(self, *command: Any) -> Any:
        async with self._mapped():
            result = await self.client.execute_command(*command)
        raise_if_cancelled()
        return result

    async def pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Sends the commands in one round trip (they share a room's slot in a cluster)."""
        async with self._mapped():
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            results = list(await pipe.execute())
        raise_if_cancelled()
        return results

    async def close(self) -> None:
        await self.client.aclose()
        if self._also_close is not None:
            await self._also_close()


class ReplicasBehind(BackendUnavailable):
    """A write was not acknowledged by enough replicas in time (``WAIT``)."""

    code = "unavailable"
