"""A small HTTP/1.1 client for the driver: a pool of keep-alive connections to one server.

aiohttp's client spent about twice the CPU per request that the server spent answering it, so
a replay's real time was the driver's. This client writes each request with one call and reads
just what the pyqueue server sends back: a status line, headers and a ``Content-Length`` body
(a chunked answer is refused loudly rather than misread).
"""

from __future__ import annotations

import asyncio
import time
from typing import cast
from urllib.parse import urlsplit

_HEADER_END = b"\r\n\r\n"


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have the interface without the class.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.answer is None or self.answer.done():
            return
        end = self.buffer.find(_HEADER_END)
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        if b"transfer-encoding: chunked" in head:
            self.answer.set_exception(ValueError("chunked answers are not read by this client"))
            return
        marker = head.find(b"\r\ncontent-length:")
        length = 0 if marker < 0 else int(head[marker + 17 : head.find(b"\r\n", marker + 2)])
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        if b"\r\nconnection: close" in head:
            self.closed = True
        self.answer.set_result((int(head[9:12]), body))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """At most ``size`` requests in flight, each on a connection of its own, reused."""

    def __init__(self, base_url: str, size: int) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or url.hostname is None or url.port is None:
            raise ValueError(f"need http://host:port, not {base_url}")
        self.host = url.hostname
        self.port = url.port
        self.idle: list[_Connection] = []
        self.gate = asyncio.Semaphore(size)
        self.host_header = f"Host: {url.netloc}\r\n".encode()

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes, float]:
        """Status, body, and the seconds from sending to the whole answer (no queueing)."""
        lines = f"{method} {path} HTTP/1.1\r\n".encode() + self.host_header
        for name, value in headers.items():
            lines += f"{name}: {value}\r\n".encode()
        request = lines + b"Content-Length: %d\r\n\r\n" % len(body) + body
        async with self.gate:
            connection = self._idle_connection() or await self._connect()
            started = time.perf_counter()
            try:
                status, answer = await connection.exchange(request)
                seconds = time.perf_counter() - started
            except BaseException:
                connection.close()
                raise
            if connection.closed:
                connection.close()
            else:
                self.idle.append(connection)
        return status, answer, seconds

    def _idle_connection(self) -> _Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self.host, self.port)
        return connection

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()
