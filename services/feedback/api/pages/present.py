"""What the pages show, in words and shapes: pure functions, no I/O, no framework.

- a score's explanation in plain words ("visited pricing twice: +20"),
- a follow-up deadline as time left,
- the geometry of the server-rendered SVG charts (readable without JavaScript),
- a scoring model and routing's criteria as sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def rule_in_words(rule: str) -> str:
    """`visited_pricing_twice` -> `visited pricing twice`; `title-contains:VP` stays readable."""
    words = " ".join(rule.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:] if words else "a rule"


def explanation(scored: Mapping[str, Any] | None) -> list[str]:
    """Each fired rule as "<rule in words>: +N", the biggest effect first."""
    if not scored:
        return []
    fired = [r for r in scored.get("explanation", []) if isinstance(r, Mapping)]
    fired.sort(key=lambda r: (-abs(int(r.get("points", 0))), str(r.get("rule", ""))))
    lines = []
    for rule in fired:
        points = int(rule.get("points", 0))
        line = f"{rule_in_words(str(rule.get('rule', '')))}: {points:+d}"
        decayed = rule.get("decayed_value")
        if rule.get("kind") == "engagement" and decayed is not None and round(decayed) != points:
            line += f" (worth {round(decayed):+d} now, fading with time)"
        lines.append(line)
    return lines


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else "under a minute"


def time_left(due: datetime | None, now: datetime) -> tuple[str, bool]:
    """("2 h 05 min left", False) or ("overdue by 12 min", True); no deadline: ("", False)."""
    if due is None:
        return "", False
    seconds = int((due - now).total_seconds())
    if seconds >= 0:
        return f"{_span(seconds)} left", False
    return f"overdue by {_span(-seconds)}", True


# ---- charts ------------------------------------------------------------------------------------


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


# ---- models and criteria in words --------------------------------------------------------------

_LISTS = ("keywords", "bands", "industries", "countries", "domains")


def _rule_line(rule: Mapping[str, Any]) -> str:
    name = rule_in_words(str(rule.get("id", "")))
    what = str(rule.get("kind") or rule.get("activity") or "").replace("_", " ")
    details = [
        ", ".join(str(v) for v in rule[key]) for key in _LISTS if isinstance(rule.get(key), list)
    ]
    when = rule.get("when")
    if isinstance(when, Mapping):
        details.append(f"{when.get('property')} {when.get('match')} {when.get('value')}")
    if "given" in rule:
        details.append("given" if rule["given"] else "not given")
    line = f"{name} ({what}{': ' + '; '.join(details) if details else ''}): "
    line += f"{int(rule.get('points', 0)):+d}"
    if rule.get("cap") is not None:
        line += f", at most {rule['cap']}"
    if rule.get("half_life_days") is not None:
        line += f", halving every {float(rule['half_life_days']):g} days"
    if rule.get("description"):
        line += f" – {rule['description']}"
    return line


def model_lines(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """A scoring model document as sentences, by section."""
    grades = document.get("grades") or {}
    threshold = document.get("threshold") or {}
    recycle = document.get("recycle") or {}
    return {
        "Fit": [_rule_line(r) for r in document.get("fit_rules", []) if isinstance(r, Mapping)],
        "Engagement": [
            _rule_line(r) for r in document.get("engagement_rules", []) if isinstance(r, Mapping)
        ],
        "Grades": [f"{grade}: fit {points} or more" for grade, points in grades.items()],
        "Threshold": [
            f"MQL at a score of {threshold.get('base')} normally; it moves between "
            f"{threshold.get('floor')} and {threshold.get('ceiling')} with sales' free capacity"
        ]
        if threshold
        else [],
        "Recycling": [
            f"a recycled lead waits {float(recycle.get('cooldown_days') or 0):g} days, at most "
            f"{recycle.get('max_recycles')} times; never again after: "
            + ", ".join(str(r) for r in recycle.get("disqualifying_reasons", []))
        ]
        if recycle
        else [],
    }


def criteria_lines(rules: Mapping[str, Any]) -> list[str]:
    """Routing's SQL criteria as sentences."""
    lines = []
    if rules.get("consent_required"):
        lines.append("Consent to be contacted is required")
    if rules.get("min_grade"):
        lines.append(f"Grade {rules['min_grade']} or better")
    if rules.get("min_score") is not None:
        lines.append(f"Score {rules['min_score']} or more")
    if rules.get("required_fields"):
        lines.append("Must have: " + ", ".join(str(f) for f in rules["required_fields"]))
    for key, words in (
        ("excluded_countries", "Not from"),
        ("excluded_industries", "Not in the industries"),
        ("excluded_company_sizes", "Not of company size"),
    ):
        if rules.get(key):
            lines.append(f"{words}: " + ", ".join(str(v) for v in rules[key]))
    return lines or ["Every MQL is a sales lead"]
