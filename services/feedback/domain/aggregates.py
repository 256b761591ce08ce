"""How a lead's facts add to the report aggregates, and how one lead's change moves them.

A lead contributes to the aggregate tables through `contribution(facts)`; when an event changes
its facts, `diff(before, after)` is what to add to (and take from) the aggregates, so the
consumers keep them exact without ever re-reading the leads.

The aggregate rows are few and hot (every lead of a day adds to that day's `all` rows), and a
transaction (a verdict, or a consumer batch of many events) locks each row it adds to until it
commits. So every writer gathers its transaction's changes in a `Tally` and adds them at the
end, all at once and in one global order (`lock_order`): two transactions then never wait for
each other in a cycle, however their leads and rows overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.feedback.domain.facts import DIMENSIONS, LeadFacts, Segment, Step
from services.feedback.domain.histogram import bucket_of

COUNTERS = (
    *(step.value for step in Step),
    "judged",
    "rating_sum",
    "rating_count",
    "sla_met",
    "sla_missed",
    "reassigned",
)
SPANS = ("capture_to_mql", "mql_to_assignment", "assignment_to_verdict")
ROLLUPS = ("all", *DIMENSIONS)

# One aggregate row is (table, key); one change to it adds {column: amount}.
Key = tuple[object, ...]
Row = tuple[str, Key]
Amounts = dict[str, int | Decimal]
Change = tuple[str, Key, Amounts]


@dataclass(frozen=True)
class Contribution:
    """What one lead adds to the aggregates: counters, a reason and revenue, under its key."""

    day: date
    segment: Segment
    counters: Mapping[str, int] = field(default_factory=dict)
    reason: tuple[str, str] | None = None
    revenue: tuple[str, Decimal] | None = None
    spans: Mapping[str, float] = field(default_factory=dict)  # speed metric -> seconds


def spans(facts: LeadFacts) -> dict[str, float]:
    """How long the lead took from each milestone to the next, where both are known."""
    pairs = {
        "capture_to_mql": (facts.captured_at, facts.mql_at),
        "mql_to_assignment": (facts.mql_at, facts.first_assigned_at),
        "assignment_to_verdict": (facts.assigned_at, facts.first_verdict_at),
    }
    return {
        name: (end - start).total_seconds()
        for name, (start, end) in pairs.items()
        if start is not None and end is not None
    }


def contribution(facts: LeadFacts) -> Contribution:
    counters = dict.fromkeys(COUNTERS, 0)
    for step in facts.steps:
        counters[step.value] = 1
    counters["judged"] = int(facts.first_verdict_at is not None)
    counters["rating_sum"] = facts.rating or 0
    counters["rating_count"] = int(facts.rating is not None)
    counters["sla_met"] = int(facts.sla_met is True)
    counters["sla_missed"] = int(facts.sla_met is False)
    counters["reassigned"] = facts.reassigned
    return Contribution(
        facts.day, facts.segment, counters, facts.reason, facts.revenue, spans(facts)
    )


def rows(part: Contribution) -> dict[Row, Amounts]:
    """The aggregate rows a contribution adds to: one per report grouping (`all`, and each
    dimension with the lead's value), so a report grouped by one dimension reads only its own
    rows: a year of them per value, however many leads."""
    values = vars(part.segment)  # its fields are strings: nothing to copy deeply
    out: dict[Row, Amounts] = {}
    for rollup in ROLLUPS:
        base: Key = (part.day, rollup, values.get(rollup, ""))
        out[("segment_day", base)] = dict(part.counters)
        if part.reason is not None:
            out[("reason_day", (*base, *part.reason))] = {"leads": 1}
        if part.revenue is not None:
            currency, amount = part.revenue
            out[("revenue_day", (*base, currency))] = {"deals": 1, "amount": amount}
        for metric, seconds in part.spans.items():
            out[("speed_day", (*base, metric, bucket_of(seconds)))] = {"leads": 1}
    return out


def lock_order(row: Row) -> tuple[str, tuple[str, ...]]:
    """The one order every writer takes the aggregate rows in: by table, then by key."""
    table, key = row
    return table, tuple(map(str, key))


def _add(total: dict[Row, Amounts], amounts: Mapping[Row, Amounts], sign: int = 1) -> None:
    for where, values in amounts.items():
        target = total.setdefault(where, {})
        for column, amount in values.items():
            target[column] = target.get(column, 0) + sign * amount


def _in_lock_order(total: Mapping[Row, Amounts]) -> list[Change]:
    """The rows with something to add, in `lock_order`; rows of all zeros are left out."""
    return [
        (table, key, dict(total[(table, key)]))
        for table, key in sorted(total, key=lock_order)
        if any(amount != 0 for amount in total[(table, key)].values())
    ]


def diff(before: Contribution | None, after: Contribution) -> list[Change]:
    """What to add to each aggregate row so it reflects `after` instead of `before`, in
    `lock_order`; rows whose change is all zeros are left out."""
    return _in_lock_order(net(before, after))


def net(before: Contribution | None, after: Contribution) -> dict[Row, Amounts]:
    """`diff` unordered, zeros included: for a `Tally`, which orders the sum once."""
    total = rows(after)
    if before is not None:
        _add(total, rows(before), -1)
    return total


def summed(contributions: Iterable[Contribution]) -> dict[Row, Amounts]:
    """Aggregates computed from scratch (what the incremental diffs must add up to)."""
    total: dict[Row, Amounts] = {}
    for part in contributions:
        _add(total, rows(part))
    return total


class Tally:
    """The changes one transaction makes to the aggregates, summed per row until it adds them
    all at once (`changes`, in `lock_order`)."""

    def __init__(self) -> None:
        self._total: dict[Row, Amounts] = {}

    def add_net(self, amounts: Mapping[Row, Amounts]) -> None:
        _add(self._total, amounts)

    def changes(self) -> list[Change]:
        return _in_lock_order(self._total)
