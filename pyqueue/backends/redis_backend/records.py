"""The time conversions of the Redis backend and the room settings' JSON form kept in Redis.
Every value the backend returns is the core's class, built with its constructor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Final

from pyqueue._core import RoomConfig

MICROS: Final = 1_000_000


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / MICROS, UTC)


def to_micros(when: datetime) -> int:
    return round(when.timestamp() * MICROS)


# ----- the settings in Redis --------------------------------------------------------------------


def config_to_json(config: RoomConfig) -> str:
    """Every setting, so that any process rebuilds the same ``RoomConfig`` (seed included)."""
    return json.dumps(config.saved_settings())


def config_from_json(text: str | bytes) -> RoomConfig:
    """Saved settings as they were saved: today's ranges apply where settings arrive, and a
    room saved before one was narrowed keeps running (see ``backends.saved_ranges``)."""
    return RoomConfig.saved(json.loads(text))


def config_meta(config: RoomConfig) -> dict[str, str]:
    """The numeric settings the scripts read, in the room's ``meta`` hash (micros, per second)."""
    closes = config.closes_at
    pre = config.prequeue_opens_at
    return {
        "opens_at": str(to_micros(config.opens_at)),
        "closes_at": "0" if closes is None else str(to_micros(closes)),
        "pre_opens_at": "0" if pre is None else str(to_micros(pre)),
        "rate": repr(config.admit_per_minute / 60.0),
        "max_active": str(config.max_active),
        "session_us": str(config.session_seconds * MICROS),
        "heartbeat_us": str(config.heartbeat_timeout_seconds * MICROS),
        "hold_us": str(config.hold_seconds * MICROS),
        "offer_us": str(config.offer_seconds * MICROS),
        "limit": str(config.max_bookings_per_identity),
        "waitlist": "1" if config.returned_slots == "waitlist" else "0",
    }


#: How far the deadlines' epoch lies before the room's opening or creation; the core's
#: ``INVENTORY_EPOCH_MARGIN`` (queue_core/src/room.rs).
DEADLINE_EPOCH_MARGIN_US: Final = 24 * 3600 * MICROS

#: The counters of a room, as in the core's ``RoomInfo.counters``.
COUNTERS: Final = ("joined", "admitted", "abandoned", "left", "completed", "expired")


def initial_meta(config: RoomConfig, now: int) -> dict[str, str]:
    """The ``meta`` hash of a new room: its settings and every counter at zero."""
    meta = config_meta(config)
    # Windows before the room was created are not released (as in the core).
    meta["windows_done"] = str(now)
    opens = meta["opens_at"]
    # Hold and offer deadlines are whole seconds after this instant, rounded up: the core's
    # inventory epoch (a day before the opening or the creation, whichever is earlier).
    meta["deadline_epoch"] = str(min(int(opens), now) - DEADLINE_EPOCH_MARGIN_US)
    meta.update(
        seq="0", drawn="0", closed="0", paused="0", queue_all="0", cursor="0", len="0",
        nwait="0", active="0", allowance="0", accrued_until=opens, last_tick=opens,
        pre_left="0", ln_passed="0", ln_admitted="0", ln_us="0", ln_filled="0",
        lr_passed="0", lr_admitted="0", lr_us="0", le_passed="0", le_admitted="0", le_us="0",
    )  # fmt: skip
    for name in COUNTERS:
        meta[f"c_{name}"] = "0"
    return meta
