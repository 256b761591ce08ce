"""Report arithmetic on summed aggregates: rates, means, percentiles, flow against capacity.

The repository sums the aggregate rows per group; what a report derives from those sums is
decided here. A rate whose denominator is zero is `None` (not 0: nothing was there to convert).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from decimal import Decimal
from itertools import pairwise

from services.feedback.domain import histogram
from services.feedback.domain.aggregates import SPANS
from services.feedback.domain.facts import FUNNEL, Step

RATE_DIGITS = 4
GROUPS = ("source", "form", "utm_source", "utm_medium", "utm_campaign", "team", "rep")
FUNNEL_GROUPS = (*GROUPS, "model_version")
SPEED_METRICS = SPANS


def rate(part: float, whole: float) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def funnel_row(counts: Mapping[str, int]) -> dict[str, object]:
    """Counts of every step, each funnel step's rate from the one before, and lead -> won."""
    row: dict[str, object] = {step.value: int(counts.get(step.value, 0)) for step in Step}
    for before, after in pairwise(FUNNEL):
        row[f"{before.value}_to_{after.value}"] = rate(
            counts.get(after.value, 0), counts.get(before.value, 0)
        )
    row["lead_to_won"] = rate(counts.get("won", 0), counts.get("lead", 0))
    return row


def quality_row(
    counts: Mapping[str, int],
    reasons: Mapping[str, object],
    revenue: Mapping[str, Decimal],
) -> dict[str, object]:
    """Acceptance among judged leads, rejection reasons, mean rating, wins among accepted."""
    rating_count = counts.get("rating_count", 0)
    return {
        "leads": int(counts.get("lead", 0)),
        "judged": int(counts.get("judged", 0)),
        "accepted": int(counts.get("accepted", 0)),
        "acceptance_rate": rate(counts.get("accepted", 0), counts.get("judged", 0)),
        "rejected": int(counts.get("rejected", 0)),
        "recycled": int(counts.get("recycled", 0)),
        "reasons": dict(sorted(reasons.items())),
        "mean_rating": round(counts.get("rating_sum", 0) / rating_count, 2)
        if rating_count
        else None,
        "won": int(counts.get("won", 0)),
        "win_rate": rate(counts.get("won", 0), counts.get("accepted", 0)),
        "revenue": {currency: str(amount) for currency, amount in sorted(revenue.items())},
    }


def speed_row(buckets: Mapping[int, int]) -> dict[str, object]:
    """One span's p50 and p90 in seconds, from its histogram, and how many leads it covers."""
    p50, p90 = histogram.percentile(buckets, 0.5), histogram.percentile(buckets, 0.9)
    return {
        "p50_s": None if p50 is None else round(p50, 1),
        "p90_s": None if p90 is None else round(p90, 1),
        "leads": sum(buckets.values()),
    }


def sla_row(met: int, missed: int) -> dict[str, object]:
    return {"sla_met": met, "sla_missed": missed, "sla_compliance": rate(met, met + missed)}


def flow_row(mqls: int, capacity: int | None, queue: int | None) -> dict[str, object]:
    """One day's MQLs against the capacity sales reported that day."""
    return {
        "mqls": mqls,
        "capacity": capacity,
        "mqls_per_capacity": rate(mqls, capacity) if capacity is not None else None,
        "queue_length": queue,
    }


def flatten(row: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Nested mappings become `outer.inner` columns, for CSV."""
    flat: dict[str, object] = {}
    for name, value in row.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def to_csv(rows: Iterable[Mapping[str, object]]) -> str:
    """One header with every column any row has, in first-seen order; empty for None."""
    flat = [flatten(row) for row in rows]
    columns: dict[str, None] = {}
    for row in flat:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in flat:
        writer.writerow({name: "" if value is None else value for name, value in row.items()})
    return out.getvalue()
