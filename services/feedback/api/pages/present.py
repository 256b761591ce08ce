"""What the inbox says about a lead, in words: pure functions, no I/O, no framework.

- a rule's name, and a score's explanation, in plain words ("visited pricing twice: +20"),
- a follow-up deadline as time left.
"""

from __future__ import annotations

from collections.abc import Mapping
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
