"""The HTTP server of pyqueue: an aiohttp application over a :class:`pyqueue.backends.Backend`.

``create_app(settings, backend)`` builds the application (for tests and embedding);
``run(settings)`` serves it on uvloop with a graceful shutdown, as ``pyqueue serve`` does.
"""

from pyqueue.server.app import create_app
from pyqueue.server.openapi import openapi_document
from pyqueue.server.runner import run, serve
from pyqueue.server.state import STATE, RoomMeta, ServerState

__all__ = ["STATE", "RoomMeta", "ServerState", "create_app", "openapi_document", "run", "serve"]
