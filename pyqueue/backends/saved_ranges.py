"""Rooms saved before a range was narrowed: they keep running with their saved settings.

The ranges of :func:`pyqueue.input_rules` apply where settings arrive (the ``RoomConfig``
constructor behind the Python API, the config file and the admin API). A room restored from a
journal, or whose settings are read back from Redis, is held only to what the core relies on
(``RoomConfig.saved``); refusing it would make every booking it holds unreachable. The
operator hears once per room which saved settings are out of today's range, so that the next
change can bring them in (a change is input, and is refused until it does).
"""

from __future__ import annotations

import logging

from pyqueue._core import RoomConfig

log = logging.getLogger("pyqueue.rooms")


def warn_if_outside_ranges(config: RoomConfig) -> bool:
    """Logs a warning naming each saved setting of the room outside today's range; returns
    whether there was one."""
    outside = config.outside_ranges()
    if outside:
        log.warning(
            "room %s: saved settings outside today's ranges are kept as saved (%s); "
            "a change of the room must bring them into range",
            config.id,
            "; ".join(outside),
            extra={"room": config.id, "outside_ranges": outside},
        )
    return bool(outside)
