"""Sums up a ``make bench`` run: the core beside the plain-Python reference, and the Rust-only
figures of ``cargo bench``, against the aims. Prints the table and writes it to
``bench/results/micro.md``.

    python -m bench.report [--json bench/results/micro.json] [--cargo bench/results/cargo.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
# Aims of the micro benchmarks: operations per second through Python, and the least ratio to
# the plain-Python reference.
ASPIRED_RATIO = 10.0
AIMS_PER_SECOND = {"join": 500_000.0, "status": 2_000_000.0, "hold+confirm": 300_000.0}
RATIO_AIMED = {"join", "status", "hold+confirm"}
ORDER = ["join", "status", "status+fields", "tick", "hold+confirm", "contended-claims"]
RUST_HOLD_AIM = 1_000_000.0


@dataclass
class Figure:
    group: str
    unit: str
    core: float | None = None
    reference: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.core is None or self.reference is None:
            return None
        return self.core / self.reference


def read_micro(path: Path) -> tuple[dict[str, Figure], float]:
    """Operations per second of the best round, per group and implementation; and the highest
    load average seen while they ran."""
    figures: dict[str, Figure] = {}
    load = 0.0
    for bench in json.loads(path.read_text())["benchmarks"]:
        extra = bench.get("extra_info", {})
        load = max(load, extra.get("load_average", 0.0))
        ops = extra.get("ops")
        if not ops:
            continue
        group = bench["group"]
        figure = figures.setdefault(group, Figure(group, extra.get("unit", "ops")))
        per_second = ops / bench["stats"]["min"]
        if bench["param"] == "core":
            figure.core = per_second
        else:
            figure.reference = per_second
    return dict(sorted(figures.items(), key=lambda kv: _rank(kv[0]))), load


def _rank(group: str) -> int:
    return ORDER.index(group) if group in ORDER else len(ORDER)


def read_cargo(path: Path) -> list[tuple[str, str]]:
    """The figures printed by ``cargo bench --bench inventory --bench token``."""
    if not path.exists():
        return []
    figures: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        if m := re.match(r"(.+?):\s+([\d.]+) (pairs|claims)/s(.*)", line):
            per_second = float(m[2])
            text = f"{per_second:,.0f} {m[3]}/s = {1e9 / per_second:,.0f} ns each{m[4]}"
            if m[3] == "pairs":
                met = "met" if per_second >= RUST_HOLD_AIM else "MISSED"
                text += f" (aim {RUST_HOLD_AIM:,.0f}/s: {met})"
            figures.append((m[1], text))
        elif m := re.match(r"(add_slots): (.*)", line):
            figures.append((m[1], m[2]))
        elif m := re.match(r"(\S.*?)\s+([\d.]+) ns/op$", line):
            figures.append((f"token {m[1]}", f"{float(m[2]):,.1f} ns/op"))
    return figures


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def verdict(figure: Figure) -> tuple[str, str]:
    """The aim of a group as text, and whether the run met it."""
    aims, met = [], []
    floor = AIMS_PER_SECOND.get(figure.group)
    if floor is not None:
        aims.append(f"≥ {floor:,.0f}/s")
        if figure.core is not None:
            met.append(figure.core >= floor)
    if figure.group in RATIO_AIMED:
        aims.append(f"≥ {ASPIRED_RATIO:.0f}x")
        if figure.ratio is not None:
            met.append(figure.ratio >= ASPIRED_RATIO)
    if not aims:
        return "—", "—"
    if not met:
        return ", ".join(aims), "?"
    return ", ".join(aims), "yes" if all(met) else "NO"


def render(micro: dict[str, Figure], load: float, cargo: list[tuple[str, str]]) -> str:
    lines = [
        "# Micro benchmarks: core through Python vs plain-Python reference",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average up to {load:.1f} during the run. Best round of each; "
        "both measured in the same run.",
        "",
        "| operation | unit | core ops/s | reference ops/s | ratio | aim | met? |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for figure in micro.values():
        aim, met = verdict(figure)
        ratio = "—" if figure.ratio is None else f"{figure.ratio:,.1f}x"
        lines.append(
            f"| {figure.group} | {figure.unit} | {_rate(figure.core)} | "
            f"{_rate(figure.reference)} | {ratio} | {aim} | {met} |"
        )
    if cargo:
        lines += ["", "## Rust only (`cargo bench`)", "", "| benchmark | figure |", "|---|---|"]
        lines += [f"| {name} | {text} |" for name, text in cargo]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=RESULTS / "micro.json")
    parser.add_argument("--cargo", type=Path, default=RESULTS / "cargo.txt")
    parser.add_argument("--out", type=Path, default=RESULTS / "micro.md")
    args = parser.parse_args(argv)
    micro, load = read_micro(args.json)
    text = render(micro, load, read_cargo(args.cargo))
    args.out.write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
