"""Surge scenarios: one TOML file per field report in ``bench/scenarios/``.

A scenario holds the report's figures at full scale (``[figures]``, quoted in the report), the
room as the server runs it (``[room]``) and how the crowd behaves (``[crowd]``). A replay runs
at ``scale`` (default from the file, overridable): visitors, slots, the admission rate and the
session capacity are all multiplied by it, so waits and the shape of the surge stay those of
the full event while the number of HTTP requests fits a small machine.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"


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
    arrival_seconds: int
    abandon_share: float
    reload_share: float
    second_device_share: float
    give_up_share: float
    cancel_share: float
    think_seconds: tuple[int, int]
    cancel_after_seconds: tuple[int, int]


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

    @property
    def starts_at(self) -> datetime:
        """Where the virtual clock starts: when the first pre-queue visitor arrives."""
        return self.opens_at - timedelta(seconds=self.crowd.prequeue_seconds + 5)

    @property
    def total_slots(self) -> int:
        return sum(r.count for r in self.releases)


def scenario_path(name: str) -> Path:
    """A scenario by name (``saxony``) or by path."""
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        return path
    return SCENARIO_DIR / f"{name}.toml"


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


def load_scenario(path: Path, scale: float | None = None) -> Scenario:
    """Reads a scenario file and applies the scale (the file's own unless given)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    factor = float(scale if scale is not None else data.get("scale", 1.0))
    if not 0 < factor <= 1:
        raise ValueError(f"{path.name}: scale must be in (0, 1], not {factor}")
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
        arrival_seconds=int(crowd_data.get("arrival_seconds", 600)),
        abandon_share=float(crowd_data.get("abandon_share", 0.05)),
        reload_share=float(crowd_data.get("reload_share", 0.05)),
        second_device_share=float(crowd_data.get("second_device_share", 0.05)),
        give_up_share=float(crowd_data.get("give_up_share", 0.05)),
        cancel_share=float(crowd_data.get("cancel_share", 0.0)),
        think_seconds=tuple(crowd_data.get("think_seconds", [5, 40])),  # type: ignore[arg-type]
        cancel_after_seconds=tuple(  # type: ignore[arg-type]
            crowd_data.get("cancel_after_seconds", [60, 900])
        ),
    )
    releases = tuple(
        SlotRelease(int(r["after_seconds"]), _scaled(r["count"], factor))
        for r in data["slots"]["releases"]
    )
    return Scenario(
        name=str(data.get("name", path.stem)),
        title=str(data["title"]),
        source=str(data.get("source", "")),
        scale=factor,
        duration_seconds=int(data["duration_seconds"]),
        opens_at=opens_at,
        room=room,
        crowd=crowd,
        releases=releases,
        groups=int(data["slots"].get("groups", 4)),
        figures=dict(data.get("figures", {})),
    )


def slot_rows(scenario: Scenario, release: int) -> list[tuple[str, str, str]]:
    """The slots of one release as (id, group, starts_at): spread over centres and days."""
    count = scenario.releases[release].count
    first_day = scenario.opens_at + timedelta(days=2)
    rows = []
    for k in range(count):
        centre = k % scenario.groups
        day = (k // scenario.groups) % 14
        minute = (k // (scenario.groups * 14)) * 3
        starts = first_day + timedelta(days=day, hours=8, minutes=minute % 600)
        group = f"Zentrum {centre + 1} {starts.date().isoformat()}"
        rows.append((f"r{release}-{k:06d}", group, starts.isoformat()))
    return rows


def slots_csv(scenario: Scenario, release: int) -> str:
    lines = ["id,group,starts_at"]
    lines += [",".join(row) for row in slot_rows(scenario, release)]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def server_config(
    scenario: Scenario, backend: str, slots_file: Path, admin: str, service: str
) -> str:
    """The server's TOML: one room named after the scenario, the opening slots from a CSV."""
    lines = [
        "[server]",
        f"backend = {_toml_value(backend)}",
        f"admin_token = {_toml_value(admin)}",
        f"service_token = {_toml_value(service)}",
        'secrets = { k1 = "surge-replay-secret-of-32-bytes!" }',
        # The driver moves the clock and ticks the rooms; the background ticker only adds
        # admissions at the same virtual instant.
        "tick_interval_seconds = 0.1",
        "",
        "[[rooms]]",
        f'id = "{scenario.name}"',
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in scenario.room.items()]
    lines.append(f"slots_file = {_toml_value(str(slots_file))}")
    return "\n".join(lines) + "\n"
