"""Joins gathered per room and event-loop turn, sent to Redis as one script call.

In a surge a process receives many joins at once; applying them in one ``join`` script saves a
round trip and the script's fixed cost (reading the room's counters) per join. A join waits at
most until the loop's next turn, and the order of arrival is the order in the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

#: A larger batch would keep Redis busy in one script for too long.
MAX_BATCH: Final = 256

Join = tuple[str, str, str, "asyncio.Future[list[bytes]]"]
Run = Callable[[str, list[str]], Awaitable[list[Any]]]


class JoinBatcher:
    """Collects ``(identity, label, resumed ticket)`` joins per room; ``run`` applies a batch."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._pending: dict[str, list[Join]] = {}
        # Referenced until done, so that the loop does not drop a batch in flight.
        self._sending: set[asyncio.Task[None]] = set()

    async def join(self, room: str, identity: str, label: str, resume: str) -> list[bytes]:
        """The script's reply for this join: the packed record and the "new" flag."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bytes]] = loop.create_future()
        pending = self._pending.setdefault(room, [])
        pending.append((identity, label, resume, future))
        if len(pending) == 1:
            loop.call_soon(self._start, room)
        return await future

    def _start(self, room: str) -> None:
        batch = self._pending.pop(room, [])
        for start in range(0, len(batch), MAX_BATCH):
            task = asyncio.ensure_future(self._send(room, batch[start : start + MAX_BATCH]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, room: str, batch: list[Join]) -> None:
        args: list[str] = []
        for identity, label, resume, _ in batch:
            args += [identity, label, resume]
        try:
            replies = await self._run(room, args)
        except BaseException as error:  # every waiting join gets the room's error
            for *_, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (*_, future), reply in zip(batch, replies, strict=True):
            if not future.done():
                future.set_result(reply)
