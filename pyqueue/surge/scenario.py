"""Surge scenarios: one TOML file per field report in ``pyqueue/surge/scenarios/`` (shipped
with the package), or a file of the operator's own in the same shape.

A scenario holds the report's figures at full scale (``[figures]``, quoted in the report), the
room as the server runs it (``[room]``), how the crowd behaves (``[crowd]``) and what the
operator does during the event (``[[actions]]``: pause, resume, a new admission rate). A replay
runs at ``scale`` (default from the file, overridable): visitors, slots, the admission rates and
the session capacity are all multiplied by it, so waits and the shape of the surge stay those of
the full event while the number of HTTP requests fits a small machine.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

#: The field reports' scenarios, package data beside this module.
SCENARIO_DIR = Path(__file__).resolve().with_name("scenarios")


class ScenarioError(ValueError):
    """A scenario that cannot be found or read; the message names it."""


@dataclass(frozen=True)
class SlotRelease:
    """Slots an operator loads ``after_seconds`` after opening (0: loaded before opening)."""

    after_seconds: int
    count: int


@dataclass(frozen=True)
class Crowd:
    """How visitors behave; shares are of all visitors."""

    visitors: int
    prequeue_share: float
    prequeue_seconds: int
    #: Come at an even rate over the whole replay after opening, not in the opening rush.
    steady_share: float
    arrival_seconds: int
    abandon_share: float
    reload_share: float
    second_device_share: float
    give_up_share: float
    cancel_share: float
    think_seconds: tuple[int, int]
    cancel_after_seconds: tuple[int, int]
    #: How long after arriving an abandoning visitor stops polling (drawn per visitor).
    abandon_after_seconds: tuple[int, int] = (10, 900)
    #: From admission to the booking's confirmation and the session's end (drawn per
    #: visitor): a slow booking site. None: the visitor thinks ``think_seconds`` twice.
    booking_seconds: tuple[int, int] | None = None


#: What an operator can do mid-event, by the admin API.
ACTIONS = ("pause", "resume", "rate")


@dataclass(frozen=True)
class OperatorAction:
    """``action`` ``after_seconds`` after opening; ``rate`` sets ``admit_per_minute`` (scaled
    like the room's)."""

    after_seconds: int
    action: str
    admit_per_minute: float | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    source: str
    scale: float
    duration_seconds: int
    opens_at: datetime
    room: dict[str, Any]
    crowd: Crowd
    releases: tuple[SlotRelease, ...]
    groups: int
    figures: dict[str, Any] = field(default_factory=dict)
    actions: tuple[OperatorAction, ...] = ()

    @property
    def starts_at(self) -> datetime:
        """Where the virtual clock starts: when the first pre-queue visitor arrives."""
        return self.opens_at - timedelta(seconds=self.crowd.prequeue_seconds + 5)

    @property
    def judged_after_seconds(self) -> int:
        """From when, after opening, the wait estimates are judged: the last operator action
        (nobody can foresee an unannounced pause or rate change), else the opening."""
        return max((a.after_seconds for a in self.actions), default=0)

    @property
    def total_slots(self) -> int:
        return sum(r.count for r in self.releases)


def scenario_path(name: str) -> Path:
    """A scenario by name (``saxony``) or by the path of a ``.toml`` file."""
    path = Path(name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ScenarioError(f"no scenario file {path}")
        return path
    shipped = SCENARIO_DIR / f"{name}.toml"
    if "/" in name or not shipped.is_file():
        names = ", ".join(p.stem for p in all_scenarios())
        raise ScenarioError(f"no scenario named {name!r} (the shipped ones: {names})")
    return shipped


def all_scenarios() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.toml"))


def _scaled(value: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(value * scale))


def _steppable_rate(per_minute: float) -> float:
    """The scaled rate, rounded to what one-second clock steps admit exactly.

    A tick banks at most one second of admissions (or one visitor): with 2.4 per second and
    one tick a second, the 0.4 left over is lost each time, and with 0.8 per second only
    every second tick admits. Whole visitors per second, or one visitor every k seconds, lose
    nothing, so the replay's rate is the configured one and the estimate is judged fairly."""
    per_second = per_minute / 60
    if per_second >= 1:
        return float(round(per_second) * 60)
    return 60 / max(1, round(1 / per_second))


def _range(pair: list[int]) -> tuple[int, int]:
    low, high = pair
    if not 0 <= int(low) <= int(high):
        raise ValueError(f"a range must be [low, high] with 0 <= low <= high, not {pair}")
    return int(low), int(high)


def _actions(entries: list[dict[str, Any]], factor: float) -> tuple[OperatorAction, ...]:
    actions = []
    for entry in entries:
        action = str(entry["action"])
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        after = int(entry["after_seconds"])
        if after < 0:
            raise ValueError(f"an action's after_seconds must be at least 0, not {after}")
        rate = None
        if action == "rate":
            rate = float(entry["admit_per_minute"])
            if rate <= 0:
                raise ValueError(f"a rate action's admit_per_minute must be above 0, not {rate}")
            rate = _steppable_rate(rate * factor)
        actions.append(OperatorAction(after, action, rate))
    return tuple(sorted(actions, key=lambda a: a.after_seconds))


def load_scenario(path: Path, scale: float | None = None) -> Scenario:
    """Reads a scenario file and applies the scale (the file's own unless given); raises
    ScenarioError naming the file for one it cannot read or use."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return _scenario(path, data, scale)
    except KeyError as exc:
        raise ScenarioError(f"{path}: the setting {exc} is missing") from exc
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc


def _scenario(path: Path, data: dict[str, Any], scale: float | None) -> Scenario:
    factor = float(scale if scale is not None else data.get("scale", 1.0))
    if not 0 < factor <= 1:
        raise ValueError(f"scale must be in (0, 1], not {factor}")
    room = dict(data["room"])
    opens_at = room["opens_at"]
    if isinstance(opens_at, str):
        opens_at = datetime.fromisoformat(opens_at)
    room["opens_at"] = opens_at.isoformat()
    # Rate and capacity shrink with the crowd, so that every visitor waits as long as at
    # full scale and the estimate is measured on waits of the real length.
    room["admit_per_minute"] = _steppable_rate(float(room["admit_per_minute"]) * factor)
    room["max_active"] = _scaled(room["max_active"], factor)
    crowd_data = data["crowd"]
    crowd = Crowd(
        visitors=_scaled(crowd_data["visitors"], factor, 2),
        prequeue_share=float(crowd_data.get("prequeue_share", 0.5)),
        prequeue_seconds=int(crowd_data.get("prequeue_seconds", 120)),
        steady_share=float(crowd_data.get("steady_share", 0.0)),
        arrival_seconds=int(crowd_data.get("arrival_seconds", 600)),
        abandon_share=float(crowd_data.get("abandon_share", 0.05)),
        reload_share=float(crowd_data.get("reload_share", 0.05)),
        second_device_share=float(crowd_data.get("second_device_share", 0.05)),
        give_up_share=float(crowd_data.get("give_up_share", 0.05)),
        cancel_share=float(crowd_data.get("cancel_share", 0.0)),
        think_seconds=_range(crowd_data.get("think_seconds", [5, 40])),
        cancel_after_seconds=_range(crowd_data.get("cancel_after_seconds", [60, 900])),
        abandon_after_seconds=_range(crowd_data.get("abandon_after_seconds", [10, 900])),
        booking_seconds=(
            _range(crowd_data["booking_seconds"]) if "booking_seconds" in crowd_data else None
        ),
    )
    # Scaled by the running total, so that the slots by any release are the report's total
    # times the scale (batch by batch, rounding would drift).
    releases = []
    loaded = total = 0
    for r in data["slots"]["releases"]:
        total += r["count"]
        count = max(1, round(total * factor) - loaded)
        loaded += count
        releases.append(SlotRelease(int(r["after_seconds"]), count))
    actions = _actions(data.get("actions", []), factor)
    duration = int(data["duration_seconds"])
    late = [a.after_seconds for a in actions if a.after_seconds >= duration]
    if late:
        raise ValueError(f"an action at {late[0]} s is not before duration_seconds ({duration})")
    return Scenario(
        name=str(data.get("name", path.stem)),
        title=str(data["title"]),
        source=str(data.get("source", "")),
        scale=factor,
        duration_seconds=duration,
        opens_at=opens_at,
        room=room,
        crowd=crowd,
        releases=tuple(releases),
        groups=int(data["slots"].get("groups", 4)),
        figures=dict(data.get("figures", {})),
        actions=actions,
    )


def slot_rows(scenario: Scenario, release: int) -> list[tuple[str, str, str]]:
    """The slots of one release as (id, group, starts_at)."""
    return _rows(scenario, f"r{release}", scenario.releases[release].count)


def _rows(scenario: Scenario, prefix: str, count: int) -> list[tuple[str, str, str]]:
    """``count`` slots spread over the scenario's centres and two weeks of days."""
    first_day = scenario.opens_at + timedelta(days=2)
    rows = []
    for k in range(count):
        centre = k % scenario.groups
        day = (k // scenario.groups) % 14
        minute = (k // (scenario.groups * 14)) * 3
        starts = first_day + timedelta(days=day, hours=8, minutes=minute % 600)
        group = f"Zentrum {centre + 1} {starts.date().isoformat()}"
        rows.append((f"{prefix}-{k:06d}", group, starts.isoformat()))
    return rows


def _csv(rows: list[tuple[str, str, str]]) -> str:
    return "\n".join(["id,group,starts_at", *(",".join(row) for row in rows)]) + "\n"


def slots_csv(scenario: Scenario, release: int) -> str:
    return _csv(slot_rows(scenario, release))


def capacity_room_id(scenario: Scenario) -> str:
    return f"{scenario.name}-capacity"


def capacity_slot_ids(scenario: Scenario, bookings: int) -> list[str]:
    return [row[0] for row in _rows(scenario, "c", bookings)]


def capacity_slots_csv(scenario: Scenario, bookings: int) -> str:
    return _csv(_rows(scenario, "c", bookings))


def capacity_room(scenario: Scenario, bookings: int) -> dict[str, Any]:
    """The scenario's room, open since the day before, admitting ``bookings`` at once.

    The booking-capacity phase measures hold + confirm, so nobody waits in it."""
    room = dict(scenario.room)
    room["opens_at"] = (scenario.starts_at - timedelta(days=1)).isoformat()
    room["admit_per_minute"] = float(bookings * 60)
    room["max_active"] = bookings
    return room


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def server_config(
    scenario: Scenario,
    backend: str,
    slots_files: tuple[Path, Path],
    capacity_bookings: int,
    admin: str,
    service: str,
) -> str:
    """The server's TOML: the scenario's room with its opening slots, and the room of the
    booking-capacity phase with its own (the CSV files ``slots_files``)."""
    lines = [
        "[server]",
        f"backend = {_toml_value(backend)}",
        f"admin_token = {_toml_value(admin)}",
        f"service_token = {_toml_value(service)}",
        'secrets = { k1 = "surge-replay-secret-of-32-bytes!" }',
        # The driver moves the clock and ticks the rooms; the background ticker only adds
        # admissions at the same virtual instant.
        "tick_interval_seconds = 0.1",
        # The driver looks every booking code up again from one address at the end (and the
        # crowd's cancels come from it too), as no visitor would: the per-address limit on
        # look-ups by code would answer 429 and leave the double-booking count without data.
        "code_rate_per_minute = 0",
    ]
    rooms = [
        (scenario.name, scenario.room, slots_files[0]),
        (capacity_room_id(scenario), capacity_room(scenario, capacity_bookings), slots_files[1]),
    ]
    for room_id, room, slots_file in rooms:
        lines += ["", "[[rooms]]", f"id = {_toml_value(room_id)}"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in room.items()]
        lines.append(f"slots_file = {_toml_value(str(slots_file))}")
    return "\n".join(lines) + "\n"
