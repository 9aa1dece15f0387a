"""The Redis backend: the state of the rooms in Redis (one server or a Redis Cluster), shared by
every process and node, with the same rules as the memory backend made atomic by Lua scripts.

Modules: ``keys`` (key names under one hash tag per room), ``lua/`` (the scripts), ``scripts``
(loading them, mapping their errors), ``connection`` (the client), ``cache`` (what one process
knows, for status polls without Redis commands), ``inventory`` (slots and bookings) and
``backend`` (the :class:`RedisBackend`).
"""

from pyqueue.backends.redis_backend.backend import RedisBackend

__all__ = ["RedisBackend"]
