"""The demo room that ``make serve`` (``pyqueue serve`` without ``--config``) runs.

One room, ``demo``, opening at start, with slots in two vaccination centres over the next
days. Secrets and tokens are random per start; the admin and service tokens are printed in
the start-up log line so the admin API can be tried at once.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pyqueue._core import RoomConfig
from pyqueue.config import RoomSettings, ServerSettings, Settings

ROOM_ID = "demo"
CENTRES = ("Kiel Ostseehalle", "Lübeck Musik- und Kongresshalle")
DAYS = 3
#: Slots per centre and day: every 30 minutes from 08:00 local time.
SLOT_TIMES = ("08:00", "08:30", "09:00", "09:30", "10:00", "10:30")
TIMEZONE = "Europe/Berlin"


def demo_slots(now: datetime) -> list[dict[str, Any]]:
    slots = []
    zone = ZoneInfo(TIMEZONE)
    first_day = (now.astimezone(zone) + timedelta(days=1)).date()
    for day in range(DAYS):
        date = first_day + timedelta(days=day)
        for centre_index, centre in enumerate(CENTRES):
            for time_index, hhmm in enumerate(SLOT_TIMES):
                hour, minute = (int(p) for p in hhmm.split(":"))
                starts = datetime(date.year, date.month, date.day, hour, minute, tzinfo=zone)
                slots.append(
                    {
                        "id": f"c{centre_index + 1}-{date.isoformat()}-{time_index + 1}",
                        "group": f"{centre} {date.isoformat()}",
                        "starts_at": starts,
                    }
                )
    return slots


def demo_settings(
    now: datetime | None = None, *, host: str | None = None, port: int | None = None
) -> Settings:
    """Settings of the demo: random secrets and tokens, the demo room opening at ``now``."""
    now = now or datetime.now(UTC)
    config = RoomConfig(
        ROOM_ID,
        now,
        admit_per_minute=60,
        max_active=50,
        session_seconds=900,
        heartbeat_timeout_seconds=120,
        returned_slots="windows",
        release_windows=["Mon-Fri 07:00", "Mon-Fri 17:00"],
        timezone=TIMEZONE,
    )
    server = ServerSettings(
        host=host or "127.0.0.1",
        port=8080 if port is None else port,
        admin_token=secrets.token_urlsafe(24),
        service_token=secrets.token_urlsafe(24),
        secrets={"k1": secrets.token_urlsafe(32)},
    )
    return Settings(server=server, rooms=(RoomSettings(config, tuple(demo_slots(now))),))
