"""Release windows ("Mon-Fri 07:00" in the room's time zone) through the core's own schedule.

Results are kept per room until the window they name has passed or the settings change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyqueue._core import RoomConfig, next_release_window
from pyqueue.backends.redis_backend.records import MICROS, to_micros


def next_window(config: RoomConfig, at_or_after: int) -> int | None:
    """The first release window at or after ``at_or_after`` (micros), or None."""
    if not config.release_windows:
        return None
    window = next_release_window(config, datetime.fromtimestamp(at_or_after / MICROS, UTC))
    return None if window is None else to_micros(window)


class Schedules:
    """Next windows per room, computed again only when needed."""

    def __init__(self) -> None:
        self._next: dict[str, tuple[RoomConfig, int, int | None]] = {}

    def next_after(self, room: str, config: RoomConfig, after: int) -> int | None:
        """The first window strictly after ``after`` (micros)."""
        known = self._next.get(room)
        if known is not None:
            same_config, asked, window = known
            if same_config is config and asked == after:
                return window
        window = next_window(config, after + 1)
        self._next[room] = (config, after, window)
        return window
