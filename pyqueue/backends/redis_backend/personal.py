"""The Redis backend's deletion of a room's personal data: the identity index, the labels and
the booking codes (``forget.lua``, one atomic step). When it is due is the core's rule
(``RoomConfig.personal_data_due_at``); this module reads what the rule needs from Redis.

The retention task reads two cheap things first (is the earliest possible due time past, is
there anything personal: identities, labels, live or cancelled codes), so that a closed room
costs one pipelined read per run, and reads the slots' starts only for a room about to be
forgotten.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pyqueue._core import RETENTION_ACTOR, check_audit
from pyqueue.backends.redis_backend import records as rec
from pyqueue.backends.redis_backend.keys import RoomKeys

if TYPE_CHECKING:
    from pyqueue.backends.redis_backend.backend import RedisBackend

log = logging.getLogger("pyqueue.backend")


def _counts(reply: Any) -> dict[str, int]:
    identities, labels, codes = (int(n) for n in reply)
    return {"identities": identities, "labels": labels, "booking_codes": codes}


async def forget_now(backend: RedisBackend, room: str, actor: str) -> dict[str, int]:
    """The operator's deletion; ``RoomNotClosed`` unless the room has closed."""
    check_audit(actor)
    await backend.config(room)  # an unknown room is refused as everywhere
    forgotten = _counts(await backend.run("forget", room, actor, "now", replicated=True))
    log.info("personal data deleted", extra={"room": room, "actor": actor, **forgotten})
    return forgotten


async def forget_due(backend: RedisBackend) -> None:
    """The "retention" task's run: every room whose retention has run out forgets."""
    for room in await backend.room_ids():
        config = await backend.config(room)
        now = rec.from_micros(backend.micros())
        earliest = config.personal_data_due_at()
        if earliest is None or now < earliest:
            continue
        keys = RoomKeys(room)
        held = await backend.conn.pipeline(
            [("HLEN", key) for key in (keys.ids, keys.labels, keys.codes, keys.cancelled)]
        )
        if not any(int(n) for n in held):
            continue
        starts = await backend.conn.call("HVALS", keys.slot_info)
        last = max((int(raw.split(b"|", 1)[0]) for raw in starts), default=None)
        due = config.personal_data_due_at(None if last is None else rec.from_micros(last))
        if due is None or now < due:
            continue
        reply = await backend.run("forget", room, RETENTION_ACTOR, "due", replicated=True)
        forgotten = _counts(reply)
        if any(forgotten.values()):
            log.info("personal data deleted", extra={"room": room, **forgotten})
