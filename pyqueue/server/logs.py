"""Structured logs: one JSON object per line on stderr, fit for any log shipper.

Fields passed as ``extra=`` land in the object. Access logs are off by default (a surge would
write a line per poll); ``access_log = true`` turns them on, in the same format. No line holds
a client's address, identity or label, and an access line's path shows a booking code as
``…``: logs are kept and shipped by whatever runs the server, beyond the reach of the rooms'
``retain_personal_data_hours``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any, Final

import orjson
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

# Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "info", stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


class JsonAccessLogger(AbstractAccessLogger):
    """One line per request when access logs are on."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "request",
            extra={
                "method": request.method,
                "path": _without_codes(request),
                "status": response.status,
                "duration_ms": round(time * 1000, 3),
                "bytes": response.body_length,
            },
        )


def _without_codes(request: BaseRequest) -> str:
    """The request's path with a booking code in it (``/bookings/{code}``) shown as ``…``."""
    match_info = getattr(request, "match_info", None)
    code = match_info.get("code") if match_info is not None else None
    path = request.path
    return path.replace(code, "…") if code else path
