"""Release windows in plain Python, ported from ``queue_core/src/schedule.rs``.

Specs like ``"Mon-Fri 07:00"``, ``"Mon,Wed-Fri 17:00"``, ``"daily 07:00"`` or ``"07:00"`` in an
IANA timezone. A window at local time L happens at the first instant at which the wall clock has
shown L or later: inside a spring-forward gap that is the end of the gap, and a local time shown
twice (fall-back) counts once, at the earlier instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bench.reference_errors import InvalidConfig

MICROS = 1_000_000
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Wider than any change of UTC offset in the tz database.
OFFSET_CHANGE_REACH_SECONDS = 26 * 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_time(text: str) -> time:
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        raise ValueError(f"the time {text!r} is not HH:MM (24-hour, e.g. 07:00)")
    hour, minute = int(text[:2]), int(text[3:])
    if hour > 23 or minute > 59:
        raise ValueError(f"the time {text!r} is out of range")
    return time(hour, minute)


def _parse_day(text: str) -> int:
    try:
        return DAY_NAMES.index(text.lower())
    except ValueError:
        raise ValueError(f"unknown day {text!r}") from None


def _parse_days(text: str) -> set[int]:
    if not text or text.lower() == "daily":
        return set(range(7))
    days: set[int] = set()
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            raise ValueError(f"the day list {text!r} has an empty entry")
        if "-" in entry:
            first_text, last_text = (part.strip() for part in entry.split("-", 1))
            first, last = _parse_day(first_text), _parse_day(last_text)
            # A range runs forward through the week and may wrap: Fri-Mon is Fri to Mon.
            day = first
            days.add(day)
            while day != last:
                day = (day + 1) % 7
                days.add(day)
        else:
            days.add(_parse_day(entry))
    return days


class ReleaseSchedule:
    """A set of weekly local times in one timezone."""

    def __init__(self, specs: list[str], timezone: str) -> None:
        try:
            self.timezone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidConfig(f"unknown timezone {timezone!r}") from None
        times: list[set[time]] = [set() for _ in range(7)]
        for spec in specs:
            text = spec.strip()
            try:
                if not text:
                    raise ValueError("the spec is empty")
                days_text, _, time_text = text.rpartition(" ")
                at = _parse_time(time_text)
                for day in _parse_days(days_text.strip()):
                    times[day].add(at)
            except ValueError as e:
                raise InvalidConfig(f"release window {spec!r}: {e}") from None
        self.times_by_weekday = [sorted(t) for t in times]
        self.empty = not specs

    def next_at_or_after(self, t: int) -> int | None:
        if self.empty:
            return None
        shown = self._latest_wall_time_shown(t - 1)
        day = shown.date()
        for _ in range(9):
            for at in self.times_by_weekday[day.weekday()]:
                window = datetime.combine(day, at)
                if window > shown:
                    return self._instant_of(window)
            day += timedelta(days=1)
        return None

    def last_at_or_before(self, t: int) -> int | None:
        if self.empty:
            return None
        shown = self._latest_wall_time_shown(t)
        day: date = shown.date()
        for _ in range(9):
            for at in reversed(self.times_by_weekday[day.weekday()]):
                window = datetime.combine(day, at)
                if window <= shown:
                    return self._instant_of(window)
            day -= timedelta(days=1)
        return None

    def _offset_seconds_at(self, seconds: int) -> int:
        offset = (_EPOCH + timedelta(seconds=seconds)).astimezone(self.timezone).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def _wall_time_at(self, micros: int) -> datetime:
        return (
            (_EPOCH + timedelta(microseconds=micros)).astimezone(self.timezone).replace(tzinfo=None)
        )

    def _latest_wall_time_shown(self, micros: int) -> datetime:
        """The latest wall time shown up to ``micros`` (after a fall-back, the one before it)."""
        now = self._wall_time_at(micros)
        second_now = micros // MICROS
        offset_now = self._offset_seconds_at(second_now)
        before = second_now - OFFSET_CHANGE_REACH_SECONDS
        if self._offset_seconds_at(before) <= offset_now:
            return now
        after = second_now
        while after - before > 1:
            middle = before + (after - before) // 2
            if self._offset_seconds_at(middle) == offset_now:
                after = middle
            else:
                before = middle
        return max(now, self._wall_time_at(after * MICROS - 1))

    def _instant_of(self, local: datetime) -> int:
        first = local.replace(tzinfo=self.timezone, fold=0)
        second = local.replace(tzinfo=self.timezone, fold=1)
        candidates = []
        for aware in (first, second):
            instant = aware.astimezone(UTC)
            # A local time in a gap does not survive the round trip.
            if instant.astimezone(self.timezone).replace(tzinfo=None) == local:
                candidates.append(instant)
        if candidates:
            return (min(candidates) - _EPOCH) // timedelta(microseconds=1)
        return self._end_of_gap(local)

    def _end_of_gap(self, local: datetime) -> int:
        target = (local.replace(tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
        before = target - OFFSET_CHANGE_REACH_SECONDS
        after = target + OFFSET_CHANGE_REACH_SECONDS
        while after - before > 1:
            middle = before + (after - before) // 2
            if middle + self._offset_seconds_at(middle) >= target:
                after = middle
            else:
                before = middle
        return after * MICROS
