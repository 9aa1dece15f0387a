"""Background tasks that survive faults: each is a named step run periodically, forever.

Every periodic job of the server and of the backends (the ticker, room refreshes, heartbeat
flushes, journal syncs and snapshots, the Redis clock) runs through :class:`Periodic`. An
exception from a step never ends the task: the first failure is logged once with its traceback,
later ones are only counted, the task backs off exponentially up to a cap and tries again, and
the first success after failures is logged once. Only cancellation ends a task. An exception
whose ``backoff`` attribute is false (a step that did part of its work, like a tick that failed
for one room only) counts as a failure but keeps the task's pace, so that the rest is not slowed.

Each task's health feeds ``/readyz`` (not ready while a task is failing) and ``/healthz``
(unhealthy when a task has died or a step has hung, so that a supervisor restarts the process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

log = logging.getLogger("pyqueue.tasks")

#: The longest pause between two attempts of a failing task.
MAX_BACKOFF_SECONDS: Final = 5.0
#: A step still running after this long counts as hung: the process needs a restart.
STUCK_SECONDS: Final = 120.0

Step = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class TaskHealth:
    """What ``/readyz`` says of one task."""

    name: str
    #: "running", "degraded" (part of each step fails, like one room's tick), "failing",
    #: "stuck" (a step hung) or "dead" (the task ended).
    state: str
    failures: int
    failing_for_seconds: float | None
    last_error: str | None
    last_success_seconds_ago: float | None

    @property
    def serving(self) -> bool:
        """False while the task fails as a whole: the node should get no traffic. One room
        failing does not take the other rooms, nor every node, out of service."""
        return self.state in ("running", "degraded")

    @property
    def alive(self) -> bool:
        """False when only a restart of the process can bring the task back."""
        return self.state not in ("stuck", "dead")

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "failures": self.failures,
            "failing_for_seconds": _rounded(self.failing_for_seconds),
            "last_error": self.last_error,
            "last_success_seconds_ago": _rounded(self.last_success_seconds_ago),
        }


class Periodic:
    """One supervised task: ``step`` every ``interval`` seconds, measured from the start of
    one step to the start of the next, so that the pace stays steady however long a step took.
    """

    def __init__(
        self,
        name: str,
        step: Step,
        interval: float,
        *,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        stuck_after: float = STUCK_SECONDS,
    ) -> None:
        self.name = name
        self._step = step
        self.interval = interval
        self._max_backoff = max(max_backoff, interval)
        self._stuck_after = stuck_after
        #: Failures over the task's life (the metric), and since the last success.
        self.failures = 0
        self._consecutive = 0
        self._failing_since: float | None = None
        self._last_error: str | None = None
        self._last_success: float | None = None
        self._step_started: float | None = None
        #: The last failure was partial: the step did the rest of its work.
        self._partial = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"pyqueue-{self.name}")

    def cancel(self) -> None:
        """Ends the task at its next pause or await, without waiting for it."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        self.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        delay = self.interval
        while True:
            await asyncio.sleep(delay)
            started = self._step_started = time.monotonic()
            try:
                await self._step()
            except Exception as exc:
                partial = not getattr(exc, "backoff", True)
                self._failed(exc, partial)
                # Doubled from the last pause, not computed from the count of failures: a
                # count that grows for hours must not overflow the arithmetic of the backoff.
                delay = (
                    self.interval
                    if partial
                    else min(max(delay, self.interval) * 2, self._max_backoff)
                )
            else:
                self._succeeded()
                delay = max(0.0, self.interval - (time.monotonic() - started))
            finally:
                self._step_started = None

    def _failed(self, exc: Exception, partial: bool) -> None:
        self.failures += 1
        self._consecutive += 1
        self._partial = partial
        self._last_error = f"{type(exc).__name__}: {exc}"
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            # Once, with the traceback: a step retried ten times a second must not flood logs.
            log.error(
                "background task failing; retrying with backoff",
                exc_info=exc,
                extra={"task": self.name, "error": self._last_error},
            )

    def _succeeded(self) -> None:
        now = time.monotonic()
        if self._failing_since is not None:
            log.warning(
                "background task recovered",
                extra={
                    "task": self.name,
                    "failed_attempts": self._consecutive,
                    "failed_seconds": round(now - self._failing_since, 3),
                    "last_error": self._last_error,
                },
            )
        self._consecutive = 0
        self._failing_since = None
        self._last_success = now

    def health(self) -> TaskHealth:
        now = time.monotonic()
        task = self._task
        if task is not None and task.done() and not self._stopping:
            state = "dead"
        elif self._step_started is not None and now - self._step_started > self._stuck_after:
            state = "stuck"
        elif self._failing_since is not None:
            state = "degraded" if self._partial else "failing"
        else:
            state = "running"
        return TaskHealth(
            name=self.name,
            state=state,
            failures=self.failures,
            failing_for_seconds=None if self._failing_since is None else now - self._failing_since,
            last_error=self._last_error if self._failing_since is not None else None,
            last_success_seconds_ago=(
                None if self._last_success is None else now - self._last_success
            ),
        )


class BackgroundTasks:
    """The supervised tasks of one owner (the server, a backend), started and stopped together."""

    def __init__(self) -> None:
        self._tasks: dict[str, Periodic] = {}

    def start(
        self,
        name: str,
        step: Step,
        interval: float,
        *,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        stuck_after: float = STUCK_SECONDS,
    ) -> Periodic:
        if name in self._tasks:
            raise ValueError(f"a background task {name!r} runs already")
        task = Periodic(name, step, interval, max_backoff=max_backoff, stuck_after=stuck_after)
        self._tasks[name] = task
        task.start()
        return task

    async def stop(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            await task.stop()

    def __iter__(self) -> Iterator[Periodic]:
        return iter(list(self._tasks.values()))


def health(tasks: Iterable[Periodic]) -> list[TaskHealth]:
    return [task.health() for task in tasks]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


__all__ = ["BackgroundTasks", "Periodic", "TaskHealth", "health"]
