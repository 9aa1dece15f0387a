"""Languages of the page: choosing one from ``Accept-Language``, the texts, and the formats of
numbers, times and waits.

The users are German portals, so German comes first: it is chosen whenever the browser does not
clearly prefer English. The texts live in ``texts/<lang>.json`` so that a translator edits data,
not code. The wait and what it rests on are phrased the same way here and in ``static/page.js``
(which re-phrases them after each poll); both round the same way so the words do not change on a
reload.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson

LANGUAGES: Final = ("de", "en")
DEFAULT_LANGUAGE: Final = "de"
TEXTS_DIR: Final = Path(__file__).parent / "texts"

#: Waits from this many minutes on are said in hours (rounded to half hours).
HOURS_FROM_MINUTES: Final = 90
#: Admission speeds from this many a minute on are said per second.
PER_SECOND_FROM_MINUTE: Final = 120


def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """The page language: ``chosen`` (the visitor's own pick) if supported, else the best match
    of ``Accept-Language`` (RFC 9110 quality values), else German."""
    if chosen in LANGUAGES:
        return chosen
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for order, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        # Equal quality keeps the earlier entry; a tiny order penalty expresses that.
        score = q - order * 1e-6
        if primary in LANGUAGES and q > 0 and score > best_q:
            best, best_q = primary, score
    return best


@dataclass(frozen=True)
class Texts:
    """The texts and formats of one language."""

    lang: str
    strings: Mapping[str, str]
    weekdays: tuple[str, ...]
    months: tuple[str, ...]
    date_format: str
    decimal: str
    thousands: str

    def __call__(self, key: str, **values: Any) -> str:
        """The text ``key`` with ``{name}`` placeholders filled (plain text, not escaped)."""
        text = self.strings[key]
        return text.format(**values) if values else text

    def number(self, value: int) -> str:
        digits = f"{abs(value):,}".replace(",", self.thousands)
        return f"-{digits}" if value < 0 else digits

    def decimal_number(self, value: float) -> str:
        """At most one decimal, e.g. ``1,5`` in German."""
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return text.replace(".", self.decimal)

    def ahead(self, ahead: int) -> str:
        if ahead <= 0:
            return self("ahead_none")
        if ahead == 1:
            return self("ahead_one")
        return self("ahead_many", n=self.number(ahead))

    def wait(self, low: float, high: float) -> str:
        """The wait as a range in words, e.g. "about 12 to 15 minutes" (with an en dash)."""
        low, high = max(0.0, low), max(0.0, high, low)
        if high < 60:
            return self("eta_under_minute")
        lo_min = max(1, math.floor(low / 60))
        hi_min = max(lo_min, math.ceil(high / 60))
        if hi_min >= HOURS_FROM_MINUTES:
            lo_h = max(0.5, math.floor(low / 1800) / 2)
            hi_h = max(lo_h, math.ceil(high / 1800) / 2)
            if lo_h == hi_h:
                return self("eta_hours_single", n=self.decimal_number(lo_h))
            return self("eta_hours", low=self.decimal_number(lo_h), high=self.decimal_number(hi_h))
        if lo_min == hi_min:
            if lo_min == 1:
                return self("eta_one_minute")
            return self("eta_minutes_single", n=lo_min)
        return self("eta_minutes", low=lo_min, high=hi_min)

    def rate(self, per_minute: int) -> str:
        """An admission speed in words: per second from two a second on, else per minute."""
        if per_minute >= PER_SECOND_FROM_MINUTE:
            return self("eta_rate_second", n=self.number(round(per_minute / 60)))
        if per_minute <= 1:
            return self("eta_rate_one_minute")
        return self("eta_rate_minute", n=self.number(per_minute))

    def eta(self, eta: Mapping[str, Any]) -> str:
        """The wait line of a status's ``eta``: a range, or why there is none (paused by the
        organiser; still measuring, when the range would span what the settings allow)."""
        reason = eta.get("reason")
        if reason == "paused":
            return self("eta_paused")
        if reason == "measuring":
            return self("eta_measuring")
        return self.wait(eta["low"], eta["high"])

    def eta_reason(self, eta: Mapping[str, Any]) -> str:
        """What the estimate rests on, in a sentence ("" while paused: the page says so)."""
        reason = eta.get("reason")
        rate = self.rate(int(eta.get("admit_per_minute") or 0))
        if reason in ("rate", "capacity", "measuring"):
            return self(f"eta_reason_{reason}", rate=rate)
        if reason == "expiry":
            return self("eta_reason_expiry")
        return ""

    def clock(self, seconds: float) -> str:
        """A countdown's face: ``04:05``, ``1:02:03``, and from a day on with the days in
        words, ``26 days, 12:19:18`` (``static/page.js`` ticks it on the same way, with the
        words of :meth:`clock_days`)."""
        total = max(0, math.ceil(seconds))
        days, rest = divmod(total, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        if days:
            in_days = self("clock_day") if days == 1 else self("clock_days", n=days)
            return f"{in_days}, {hours:02d}:{minutes:02d}:{secs:02d}"
        if hours:
            return f"{hours}:{minutes:02d}:{secs:02d}"
        return f"{minutes:02d}:{secs:02d}"

    def clock_days(self) -> str:
        """The day words of a countdown for the page script: one day, then many (``{n}``)."""
        return f"{self('clock_day')}|{self('clock_days')}"

    def wait_in_words(self, seconds: float) -> str:
        """How long until a moment, as people say it after "in": "26 days", "about 3 hours",
        "about 12 minutes" (German in the dative: "26 Tagen")."""
        total = max(0, math.ceil(seconds))
        if total >= 2 * 86400:
            return self("wait_days", n=total // 86400)
        minutes = max(1, math.ceil(total / 60))
        if minutes >= HOURS_FROM_MINUTES:
            return self("eta_hours_single", n=self.decimal_number(round(minutes / 30) / 2))
        if minutes == 1:
            return self("eta_one_minute")
        return self("eta_minutes_single", n=minutes)

    def time(self, when: datetime, zone: ZoneInfo) -> str:
        local = when.astimezone(zone)
        return f"{local.hour:02d}:{local.minute:02d}"

    def day(self, day: date) -> str:
        return self.date_format.format(
            weekday=self.weekdays[day.weekday()],
            day=day.day,
            month=self.months[day.month - 1],
            year=day.year,
        )

    def moment(self, when: datetime, zone: ZoneInfo, *, named: bool = True) -> str:
        """Day and time in the room's time zone, named unless ``named`` is false (where the
        page names it once for a list of times), e.g. "Mi., 12. Mai 2021, 08:00 Uhr
        (Europe/Berlin)": a room made over the admin API runs on UTC unless told otherwise."""
        local = when.astimezone(zone)
        moment = self("moment", day=self.day(local.date()), time=self.time(local, zone))
        return self("moment_in_zone", moment=moment, zone=zone.key) if named else moment

    def client(self) -> dict[str, Any]:
        """What the page script needs to phrase a poll's answer like the server does."""
        keys = (
            "ahead_none",
            "ahead_one",
            "ahead_many",
            "eta_under_minute",
            "eta_one_minute",
            "eta_minutes_single",
            "eta_minutes",
            "eta_hours_single",
            "eta_hours",
            "eta_measuring",
            "eta_paused",
            "eta_rate_second",
            "eta_rate_minute",
            "eta_rate_one_minute",
            "eta_reason_rate",
            "eta_reason_capacity",
            "eta_reason_expiry",
            "eta_reason_measuring",
            "updated_at",
            "connection_problem",
            "poll_stopped",
            "hold_expired",
        )
        return {
            "lang": self.lang,
            "decimal": self.decimal,
            "hoursFromMinutes": HOURS_FROM_MINUTES,
            "perSecondFromMinute": PER_SECOND_FROM_MINUTE,
            "strings": {k: self.strings[k] for k in keys},
        }


def _load(lang: str) -> Texts:
    data = orjson.loads((TEXTS_DIR / f"{lang}.json").read_bytes())
    return Texts(
        lang=lang,
        strings=data["strings"],
        weekdays=tuple(data["weekdays"]),
        months=tuple(data["months"]),
        date_format=data["date_format"],
        decimal=data["decimal"],
        thousands=data["thousands"],
    )


@cache
def texts(lang: str) -> Texts:
    """The texts of ``lang`` (one of :data:`LANGUAGES`), read once."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    return _load(lang)
