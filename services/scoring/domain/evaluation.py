"""How well a model would have done: the backtest's weekly tally and summary, and drift.

**Backtest.** Each replayed lead adds one to a tally keyed by the week it was created (weeks
start on Monday, UTC) and its integer score: (leads, good, bad) — see `domain.learning` for the
labels. Scores are integers, so the tally is small and exact: the ROC AUC and the precision at
the capacity cut-off come from it without keeping any lead. The week's *capacity* is what sales
reported on sales.capacity.v1: per team, the largest `total_capacity` published that week (or the
last one before it), summed over teams. The *MQLs it would have produced* are the week's leads
scoring at least the model's base threshold. *Precision at the cut-off*: among the week's
`capacity` best-scored leads, the share of the judged ones that were good (a tie at the cut-off
counts pro rata).

**Drift.** Per source and per UTM campaign, the AUC of the score at verdict time this calendar
month against last month's, with the counts; *degraded* when both months have at least
`DRIFT_MIN_PER_CLASS` good and bad outcomes and this month's AUC is more than `DRIFT_MARGIN`
below last month's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.scoring.domain.learning import auc_of_histogram

DRIFT_MARGIN = 0.05
DRIFT_MIN_PER_CLASS = 10

Tally = dict[str, dict[str, list[int]]]  # week -> score -> [leads, good, bad]


def week_of(at: datetime) -> date:
    day = at.date()
    return day - timedelta(days=day.weekday())


def add(tally: Tally, created_at: datetime, score: int, good: bool | None) -> None:
    cell = tally.setdefault(week_of(created_at).isoformat(), {}).setdefault(str(score), [0, 0, 0])
    cell[0] += 1
    if good is True:
        cell[1] += 1
    elif good is False:
        cell[2] += 1


def weekly_capacity(
    states: Sequence[tuple[str, datetime, int]], weeks: Iterable[date]
) -> dict[date, int | None]:
    """`states`: (team, published_at, total_capacity) in any order."""
    ordered = sorted(states, key=lambda s: s[1])
    out: dict[date, int | None] = {}
    for week in weeks:
        start = datetime(week.year, week.month, week.day, tzinfo=UTC)
        end = start + timedelta(days=7)
        per_team: dict[str, int] = {}
        for team, at, capacity in ordered:
            if at < start:
                per_team[team] = capacity  # the last one before the week
        in_week: dict[str, int] = {}
        for team, at, capacity in ordered:
            if start <= at < end:
                in_week[team] = max(in_week.get(team, capacity), capacity)
        per_team.update(in_week)
        out[week] = sum(per_team.values()) if per_team else None
    return out


@dataclass(frozen=True)
class Figures:
    auc: float | None
    precision_at_capacity: float | None
    leads: int
    judged: int
    weeks: list[dict[str, Any]]


def summarize(tally: Tally, base: int, capacity: Mapping[date, int | None]) -> Figures:
    weeks = []
    overall: dict[float, list[int]] = {}
    top_good = top_judged = 0.0
    leads = judged = 0
    for week in sorted(tally):
        cells = {int(s): c for s, c in tally[week].items()}
        for score, (_, good, bad) in cells.items():
            both = overall.setdefault(score, [0, 0])
            both[0], both[1] = both[0] + good, both[1] + bad
        n = sum(c[0] for c in cells.values())
        leads += n
        judged += sum(c[1] + c[2] for c in cells.values())
        cap = capacity.get(date.fromisoformat(week))
        good_top, judged_top = _top(cells, cap) if cap is not None else (0.0, 0.0)
        top_good, top_judged = top_good + good_top, top_judged + judged_top
        weeks.append(
            {
                "week": week,
                "leads": n,
                "mqls": sum(c[0] for s, c in cells.items() if s >= base),
                "capacity": cap,
                "auc": auc_of_histogram({s: (c[1], c[2]) for s, c in cells.items()}),
                "precision_at_capacity": good_top / judged_top if judged_top else None,
            }
        )
    return Figures(
        auc=auc_of_histogram(overall),
        precision_at_capacity=top_good / top_judged if top_judged else None,
        leads=leads,
        judged=judged,
        weeks=weeks,
    )


def _top(cells: Mapping[int, Sequence[int]], capacity: int) -> tuple[float, float]:
    """(good, judged) among the `capacity` best-scored leads; a tie at the cut-off pro rata."""
    left, good, judged = float(max(0, capacity)), 0.0, 0.0
    for score in sorted(cells, reverse=True):
        n, pos, neg = cells[score]
        if left <= 0:
            break
        share = min(1.0, left / n)
        good, judged, left = good + share * pos, judged + share * (pos + neg), left - n
    return good, judged


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
