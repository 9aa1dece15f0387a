"""Release windows ("Mon-Fri 07:00" in the room's time zone) through the core's own schedule.

Results are kept per room until the next window has come or the settings change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyqueue._core import RoomConfig, last_release_window, next_release_window
from pyqueue.backends.redis_backend.records import MICROS, to_micros


def _micros(window: datetime | None) -> int | None:
    return None if window is None else to_micros(window)


class Schedules:
    """Per room, the latest window that has come and the next one, read again from the core
    only when the next one comes or the settings change."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[RoomConfig, int | None, int | None]] = {}

    def windows(self, room: str, config: RoomConfig, now: int) -> tuple[int | None, int | None]:
        """``(latest at or before now, first at or after now)``, micros, each None without
        one; at a window's very instant both are that window."""
        known = self._known.get(room)
        if known is not None:
            same_config, last, following = known
            came = last is None or last <= now
            if same_config is config and came and (following is None or now < following):
                return last, following
        last = following = None
        if config.release_windows:
            at = datetime.fromtimestamp(now / MICROS, UTC)
            last = _micros(last_release_window(config, at))
            following = _micros(next_release_window(config, at))
        self._known[room] = (config, last, following)
        return last, following
