"""Drift: is the model separating good leads from bad as well as it did?

Per source and per UTM campaign, the AUC of the score at verdict time this calendar month
against last month's, with the counts; *degraded* when both months have at least
`DRIFT_MIN_PER_CLASS` good and bad outcomes and this month's AUC is more than `DRIFT_MARGIN`
below last month's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scoring.domain.auc import auc_of_histogram

DRIFT_MARGIN = 0.05
DRIFT_MIN_PER_CLASS = 10


@dataclass(frozen=True)
class Drift:
    dimension: str  # "source" or "utm_campaign"
    key: str
    this_month: float | None
    last_month: float | None
    counts: dict[str, dict[str, int]]  # month -> {"good": n, "bad": n}
    degraded: bool
    note: str


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def drift(
    dimension: str,
    rows: Iterable[tuple[str | None, datetime, int, bool]],
    now: datetime,
    *,
    margin: float = DRIFT_MARGIN,
    minimum: int = DRIFT_MIN_PER_CLASS,
) -> list[Drift]:
    """`rows`: (key, occurred_at, score at verdict, good) — outcomes of the last two months."""
    this = month_start(now)
    last = month_start(this - timedelta(days=1))
    groups: dict[str, dict[str, dict[float, list[int]]]] = {}
    for key, at, score, good in rows:
        month = "this" if at >= this else "last" if at >= last else None
        if month is None:
            continue
        cell = groups.setdefault(key or "(none)", {"this": {}, "last": {}})[month]
        cell.setdefault(score, [0, 0])[0 if good else 1] += 1
    out = []
    for key in sorted(groups):
        months = groups[key]
        counts = {
            m: {"good": sum(c[0] for c in h.values()), "bad": sum(c[1] for c in h.values())}
            for m, h in months.items()
        }
        now_auc, then_auc = auc_of_histogram(months["this"]), auc_of_histogram(months["last"])
        enough = all(min(c.values()) >= minimum for c in counts.values())
        degraded = bool(enough and now_auc is not None and then_auc is not None)
        degraded = degraded and now_auc < then_auc - margin  # type: ignore[operator]
        if not enough:
            note = f"not enough evidence: each month needs {minimum} good and {minimum} bad"
        elif degraded:
            note = f"separation fell by more than {margin:.2f}"
        else:
            note = "holding"
        out.append(Drift(dimension, key, now_auc, then_auc, counts, degraded, note))
    return out
