"""The pre-queue draw at opening: drawn once, whatever the number of processes.

One process takes a short lease, computes the order with the core's ``draw_order`` from the
room's recorded seed, and ``open.lua`` writes it only if no draw exists yet and no join came in
meanwhile. Others wait for the lease and try their operation again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from pyqueue._core import Draw, draw_order
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.keys import RoomKeys

if TYPE_CHECKING:
    from pyqueue.backends.redis_backend.backend import RedisBackend

#: How long the lease keeps other processes from drawing the same pre-queue.
DRAW_LEASE_MS: Final = 10_000


async def read_draw(backend: RedisBackend, room: str) -> Draw | None:
    """The recorded draw of a room, or None before its opening."""
    keys = RoomKeys(room)
    await backend.config(room)
    found, joined = await backend.conn.pipeline(
        [("HGETALL", keys.draw), ("LRANGE", keys.prequeue, 0, -1)]
    )
    if not found:
        return None
    fields = {k.decode(): v.decode() for k, v in found.items()}
    ids = [int(t) for t in joined]
    order = [ids[int(i)] for i in fields["order"].split(",") if i]
    return Draw(
        seed=int(fields["seed"]),
        at=rec.from_micros(int(fields["at"])),
        mode=fields["mode"],
        joined=ids,
        order=order,
    )


async def draw_prequeue(backend: RedisBackend, room: str) -> None:
    """Draws the pre-queue once: one process takes the lease, shuffles with the core's
    ``draw_order`` and writes the order, which the script accepts only once."""
    keys = RoomKeys(room)
    lease = keys.prefix + "drawlease"
    if not await backend.conn.call("SET", lease, "1", "NX", "PX", DRAW_LEASE_MS):
        await asyncio.sleep(0.05)  # another process draws; the caller tries again
        return
    try:
        config = await backend.config(room)
        for _ in range(100):
            n = int(await backend.conn.call("LLEN", keys.prequeue))
            order = draw_order(n, config.seed) if config.prequeue == "shuffle" else range(n)
            outcome = await backend.conn.run(
                "open",
                keys.meta,
                [backend.micros(), n, ",".join(map(str, order)), config.seed, config.prequeue],
            )
            if outcome != b"retry":
                break
    finally:
        await backend.conn.call("DEL", lease)
    backend.cache(room).stale = True
