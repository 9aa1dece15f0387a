"""The Redis connection of a backend: a single server or a Redis Cluster, the scripts
registered on it, and the translation of lost connections into :class:`BackendUnavailable`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pyqueue.backends import BackendUnavailable
from pyqueue.backends.redis_backend import scripts

#: A command that takes longer than this counts as Redis being unavailable.
COMMAND_TIMEOUT_SECONDS: Final = 2.0

CLUSTER_SCHEME: Final = "redis+cluster://"


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def connect(url: str, cluster: bool = False) -> Redis | RedisCluster:
    """A client for ``redis://…`` (one server) or ``redis+cluster://host:port`` (any node of
    a cluster; the others are discovered). Reconnection is redis-py's: every command opens a
    connection again when the pool has none that works."""
    options: dict[str, Any] = {
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        "socket_connect_timeout": COMMAND_TIMEOUT_SECONDS,
    }
    if cluster or is_cluster_url(url):
        plain = "redis://" + url.removeprefix(CLUSTER_SCHEME)
        return RedisCluster.from_url(plain, **options)
    return Redis.from_url(url, health_check_interval=10, **options)


def raise_if_cancelled() -> None:
    """Raises the cancellation of the current task if the client swallowed it.

    A command interrupted by the cancellation of its task (the ticker at shutdown) can come
    back from the client as a result or as a connection error; the task would then go on
    running and the shutdown would wait for it forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def unavailable(error: RedisError) -> BackendUnavailable:
    """The error for a failed command; a cancellation stays a cancellation."""
    raise_if_cancelled()
    return BackendUnavailable(f"the state store is unavailable: {error}")


class Connection:
    """The client and the room scripts; every call maps Redis failures to the core's errors."""

    def __init__(self, client: Redis | RedisCluster) -> None:
        self.client = client
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(scripts.source(name)) for name in scripts.SCRIPT_NAMES
        }

    async def run(self, name: str, meta_key: str, args: Sequence[str | int | float]) -> Any:
        """Runs a room script; its error replies become the core's exceptions."""
        try:
            result = await self._scripts[name](keys=[meta_key], args=list(args))
        except ResponseError as error:
            raise scripts.translate(error) from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise unavailable(RedisError(str(error))) from error
        except RedisError as error:
            raise unavailable(error) from error
        raise_if_cancelled()
        return result

    async def call(self, *command: Any) -> Any:
        try:
            result = await self.client.execute_command(*command)
        except ResponseError:
            raise
        except (RedisError, OSError) as error:
            raise unavailable(RedisError(str(error))) from error
        raise_if_cancelled()
        return result

    async def pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Sends the commands in one round trip (they share a room's slot in a cluster)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            results = list(await pipe.execute())
        except ResponseError:
            raise
        except (RedisError, OSError) as error:
            raise unavailable(RedisError(str(error))) from error
        raise_if_cancelled()
        return results

    async def close(self) -> None:
        await self.client.aclose()
