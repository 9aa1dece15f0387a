"""The connection layer below the application: protocol errors answered in JSON, a deadline
for the request head, and a cap on open connections.

aiohttp reads requests for as long as a client likes and accepts every connection the kernel
hands over, so a few thousand idle or slow sockets from one client would starve everybody
else. Here each connection must deliver its request head within ``header_timeout_seconds``
(counted from the connection's start, and on a kept-alive connection from the first byte of
the next request), and connections beyond ``max_connections`` are answered 503 with
``Retry-After`` and closed, so a client learns why and when to come back.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError

from pyqueue.server.errors import code_for_status, error_body, error_response
from pyqueue.server.metrics import Metrics

log = logging.getLogger("pyqueue.server")

#: Seconds a client refused for the connection cap is asked to wait.
OVER_CAP_RETRY_SECONDS: Final = 5


class ConnectionGuard:
    """The limits of one server process and the counts it keeps in the metrics."""

    def __init__(self, max_connections: int, header_timeout: float, metrics: Metrics) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.metrics = metrics

    def opened(self) -> bool:
        """Counts a new connection; False when it is over the cap."""
        metrics = self.metrics
        metrics.connections_open += 1
        if metrics.connections_open > self.max_connections:
            metrics.connections_refused += 1
            return False
        return True

    def closed(self) -> None:
        self.metrics.connections_open -= 1


def _head_timeout_answer() -> bytes:
    body = error_body("timeout", "the request head did not arrive in time")
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_HEAD_TIMEOUT_ANSWER: Final = _head_timeout_answer()


async def _refuse_over_cap(request: web.BaseRequest) -> web.StreamResponse:
    response = error_response(
        "too_many_connections",
        "the server has too many open connections; retry shortly",
        headers={"Retry-After": str(OVER_CAP_RETRY_SECONDS)},
    )
    response.force_close()
    return response


class GuardedRequestHandler(RequestHandler):
    """One connection: the head deadline and the cap of :class:`ConnectionGuard`, and the
    answers to requests that fail below the application (a malformed request line, a header
    over the limit) in the same JSON shape as everything else."""

    _guard: ConnectionGuard | None = None
    _counted = False
    _head_timer: asyncio.TimerHandle | None = None
    _heads_seen = 0
    _head_started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        guard: ConnectionGuard | None = getattr(self._manager, "guard", None)
        if guard is None:
            return
        self._guard = guard
        self._counted = True
        if not guard.opened():
            # Read the request so that the client gets an answer it can read, then close.
            self._request_handler = _refuse_over_cap
        self._start_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._guard is not None and self._head_timer is None and self._waiting_for_head():
            # The first byte of the next request on a kept-alive connection.
            self._start_head_timer()
        if data:
            self._head_started = True
        super().data_received(data)
        if self._head_timer is not None and self._request_count > self._heads_seen:
            self._stop_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_head_timer()
        if self._counted and self._guard is not None:
            self._counted = False
            self._guard.closed()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        # Idle between requests: the read loop waits for a message and none is queued.
        return self._waiter is not None and not self._messages

    def _start_head_timer(self) -> None:
        assert self._guard is not None
        self._heads_seen = self._request_count
        self._head_started = False
        self._head_timer = self._loop.call_later(self._guard.header_timeout, self._head_late)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.transport is None or self._request_count > self._heads_seen:
            return
        assert self._guard is not None
        self._guard.metrics.header_timeouts += 1
        if self._head_started:
            # A client that began a request is told why it ends; an idle one is just closed.
            self.transport.write(_HEAD_TIMEOUT_ANSWER)
        log.debug("request head timed out", extra={"started": self._head_started})
        self.force_close()

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, RequestPayloadError):
            # A body that cannot be decoded (Content-Encoding: gzip over bytes that are not),
            # found while aiohttp drains a body the route did not read: the client's mistake.
            # The answer is sent already and the connection ends.
            log.debug("unreadable request body", extra={"reason": str(exc)})
            return
        super().log_exception(*args, **kwargs)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the answer was partly sent; the connection is dropped")
        if isinstance(exc, LineTooLong):
            status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
            # The parser's message quotes the oversized line; not worth echoing back.
            message = "the request line or a header is larger than the server accepts"
        if status >= 500:
            log.error("request failed below the application", exc_info=exc)
            message = "an internal error occurred; it has been logged"
        else:
            # A client's mistake, and common on the open internet: not worth an error line.
            log.debug("malformed request", extra={"status": status})
        text = message or (str(exc) if exc else HTTPStatus(status).phrase)
        response = web.Response(
            status=status,
            body=error_body(code_for_status(status), text),
            content_type="application/json",
        )
        response.force_close()
        return response


class _GuardedServer(web.Server):
    guard: ConnectionGuard | None = None

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose connections are guarded by ``guard`` and answer protocol errors in
    JSON."""

    def __init__(self, app: web.Application, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._guard = guard

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp offers no hook for the connection class; the server it built is adopted.
        server.__class__ = _GuardedServer
        server.guard = self._guard  # type: ignore[attr-defined]
        return server
