"""The geometry of the dashboard's server-rendered SVG charts (readable without JavaScript):
pure functions, no I/O, no framework."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    width: float  # share of the longest bar, 0..100 (percent of the plot width)
    note: str  # e.g. the rate from the step before


def funnel_bars(row: Mapping[str, Any], steps: Sequence[str]) -> list[Bar]:
    """One bar per funnel step, scaled to the first (widest) step; each with its step rate."""
    values = [int(row.get(step) or 0) for step in steps]
    top = max(values, default=0)
    bars = []
    for index, (step, value) in enumerate(zip(steps, values, strict=True)):
        note = ""
        if index:
            rate = row.get(f"{steps[index - 1]}_to_{step}")
            note = "" if rate is None else f"{rate:.0%} of {steps[index - 1]}"
        bars.append(Bar(step, value, 100.0 * value / top if top else 0.0, note))
    return bars


@dataclass(frozen=True)
class Plot:
    """Days on x; each series a polyline in a `width` x `height` box (y grows downwards)."""

    width: int
    height: int
    top: float
    lines: dict[str, str]  # series name -> SVG points "x,y x,y …" (a missing value left out)
    dots: dict[str, list[tuple[float, float]]]  # the same points, marked (one day is a dot)
    days: list[str]


def plot(
    days: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    width: int = 600,
    height: int = 200,
) -> Plot:
    """Every series on one scale from 0 to the largest value; a missing value is left out."""
    values = [v for values in series.values() for v in values if v is not None]
    top = max([*values, 1.0])
    step = width / max(len(days) - 1, 1)
    dots = {
        name: [
            (round(index * step, 1), round(height - height * value / top, 1))
            for index, value in enumerate(points)
            if value is not None
        ]
        for name, points in series.items()
    }
    lines = {name: " ".join(f"{x},{y}" for x, y in marks) for name, marks in dots.items()}
    return Plot(width, height, top, lines, dots, list(days))
