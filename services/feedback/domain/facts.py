"""What the reports count about each lead, and how one lead's change moves the aggregates.

Every lead has one `LeadFacts`: its cohort day (the day it was captured), its segment (the
dimensions reports group by), the funnel steps it has reached, its stage and its milestones.
A lead contributes to the aggregate tables through `contribution(facts)`; when an event changes
its facts, `diff(before, after)` is what to add to (and take from) the aggregates, so the
consumers keep them exact without ever re-reading the leads.

Events arrive on different topics, so their order across topics is not guaranteed: a stage
from an event applies only if the event is not older than the stage the lead is in, and the
steps a later stage implies are counted with it (an assignment implies MQL and SQL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from services.feedback.domain.histogram import bucket_of
from services.feedback.domain.verdicts import Stage, stage_after_assignment
from shared.events import Verdict


class Step(StrEnum):
    """Funnel steps, in order; the last five are the side exits and waits."""

    lead = "lead"
    mql = "mql"
    sql = "sql"
    accepted = "accepted"
    opportunity = "opportunity"
    won = "won"
    returned = "returned"
    queued = "queued"
    rejected = "rejected"
    recycled = "recycled"
    lost = "lost"


FUNNEL = (Step.lead, Step.mql, Step.sql, Step.accepted, Step.opportunity, Step.won)
_IMPLIES: dict[Stage, frozenset[Step]] = {
    Stage.captured: frozenset({Step.lead}),
    Stage.mql: frozenset({Step.lead, Step.mql}),
    Stage.returned: frozenset({Step.lead, Step.mql, Step.returned}),
    Stage.queued: frozenset({Step.lead, Step.mql, Step.sql, Step.queued}),
    Stage.assigned: frozenset({Step.lead, Step.mql, Step.sql}),
    Stage.rejected: frozenset({Step.lead, Step.mql, Step.sql, Step.rejected}),
    Stage.recycled: frozenset({Step.lead, Step.mql, Step.sql, Step.recycled}),
    Stage.accepted: frozenset({Step.lead, Step.mql, Step.sql, Step.accepted}),
    Stage.converted: frozenset({Step.lead, Step.mql, Step.sql, Step.accepted, Step.opportunity}),
    Stage.won: frozenset(
        {Step.lead, Step.mql, Step.sql, Step.accepted, Step.opportunity, Step.won}
    ),
    Stage.lost: frozenset({Step.lead, Step.mql, Step.sql, Step.accepted, Step.lost}),
}
DIMENSIONS = (
    "source",
    "form",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "team",
    "rep",
    "model_version",
)
COUNTERS = (
    *(step.value for step in Step),
    "judged",
    "rating_sum",
    "rating_count",
    "sla_met",
    "sla_missed",
    "reassigned",
)


@dataclass(frozen=True)
class Segment:
    """The dimensions a lead is reported under; "" when not known (yet)."""

    source: str = ""
    form: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    team: str = ""
    rep: str = ""
    model_version: str = ""


@dataclass(frozen=True)
class LeadFacts:
    day: date
    segment: Segment = Segment()
    steps: frozenset[Step] = frozenset({Step.lead})
    stage: Stage = Stage.captured
    stage_at: datetime | None = None
    captured_at: datetime | None = None
    mql_at: datetime | None = None
    first_assigned_at: datetime | None = None
    assigned_at: datetime | None = None
    first_verdict_at: datetime | None = None
    sla_due: datetime | None = None
    sla_met: bool | None = None
    reassigned: int = 0
    rating: int | None = None
    reason: tuple[str, str] | None = None  # (verdict, reason code) of the last negative verdict
    revenue: tuple[str, Decimal] | None = None  # (currency, deal value) once won

    @classmethod
    def first_seen(cls, at: datetime) -> LeadFacts:
        """A lead known from any event: its cohort is that day until its capture says better."""
        return cls(day=at.date(), stage_at=at)


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def _move(facts: LeadFacts, stage: Stage, at: datetime, **changes: object) -> LeadFacts:
    """Reach `stage` at `at` unless the lead already moved on later; steps are kept either way."""
    steps = facts.steps | _IMPLIES[stage]
    if facts.stage_at is not None and at < facts.stage_at:
        return dataclasses.replace(facts, steps=steps, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(facts, steps=steps, stage=stage, stage_at=at, **changes)  # type: ignore[arg-type]


def captured(
    facts: LeadFacts, at: datetime, *, merged: bool, touch: Mapping[str, str]
) -> LeadFacts:
    """The first capture fixes the cohort day and the attribution (its first touch)."""
    if facts.captured_at is not None and (merged or at >= facts.captured_at):
        return facts
    segment = dataclasses.replace(facts.segment, **{k: touch.get(k) or "" for k in DIMENSIONS[:5]})
    stage, stage_at = facts.stage, facts.stage_at
    if facts.captured_at is None and facts.stage is Stage.captured:
        stage_at = at
    return dataclasses.replace(
        facts, day=at.date(), segment=segment, captured_at=at, stage=stage, stage_at=stage_at
    )


def scored(facts: LeadFacts, *, model_version: str) -> LeadFacts:
    """The scoring model counts until an MQL names the one that qualified the lead."""
    if facts.mql_at is not None:
        return facts
    return dataclasses.replace(
        facts, segment=dataclasses.replace(facts.segment, model_version=model_version)
    )


def qualified(facts: LeadFacts, at: datetime, *, model_version: str) -> LeadFacts:
    segment = dataclasses.replace(facts.segment, model_version=model_version)
    return _move(facts, Stage.mql, at, segment=segment, mql_at=_earliest(facts.mql_at, at))


def queued(facts: LeadFacts, at: datetime, *, team: str | None) -> LeadFacts:
    segment = facts.segment
    if team and not segment.rep:
        segment = dataclasses.replace(segment, team=team)
    return _move(facts, Stage.queued, at, segment=segment)


def returned(facts: LeadFacts, at: datetime) -> LeadFacts:
    return _move(facts, Stage.returned, at)


def assigned(
    facts: LeadFacts, at: datetime, *, rep: str, team: str, due: datetime, attempt: int
) -> LeadFacts:
    """The rep in force is the latest assignment's; reassignments are counted once each."""
    reassigned = facts.reassigned + (attempt > 1)
    first = _earliest(facts.first_assigned_at, at)
    if facts.assigned_at is not None and at < facts.assigned_at:  # an older one, arriving late
        return dataclasses.replace(
            facts,
            steps=facts.steps | _IMPLIES[Stage.assigned],
            first_assigned_at=first,
            reassigned=reassigned,
        )
    segment = dataclasses.replace(facts.segment, rep=rep, team=team)
    stage = stage_after_assignment(facts.stage)
    changes: dict[str, object] = {
        "segment": segment,
        "assigned_at": at,
        "first_assigned_at": first,
        "sla_due": due,
        "reassigned": reassigned,
    }
    if facts.stage in {Stage.rejected, Stage.recycled, Stage.won, Stage.lost}:
        changes["first_verdict_at"] = None  # a new round: its own first verdict and SLA
        changes["sla_met"] = None
    return _move(facts, stage, at, **changes)


def judged(
    facts: LeadFacts,
    at: datetime,
    *,
    verdict: Verdict,
    reason_code: str | None,
    rating: int | None,
    deal: tuple[str, Decimal] | None,
) -> LeadFacts:
    """A verdict (already checked by the state machine) at `at`."""
    changes: dict[str, object] = {}
    if facts.first_verdict_at is None:
        changes["first_verdict_at"] = at
        if facts.sla_due is not None:
            changes["sla_met"] = at <= facts.sla_due
    if rating is not None:
        changes["rating"] = rating
    if reason_code is not None and verdict in {Verdict.rejected, Verdict.recycled, Verdict.lost}:
        changes["reason"] = (verdict.value, reason_code)
    if verdict is Verdict.won and deal is not None:
        changes["revenue"] = deal
    # A verdict is feedback's own fact, checked against the current stage: it always applies,
    # even if the producer of the event before it runs a clock slightly ahead of ours.
    stage_at = at if facts.stage_at is None else max(at, facts.stage_at)
    return _move(facts, Stage(verdict.value), stage_at, **changes)


@dataclass(frozen=True)
class Contribution:
    """What one lead adds to the aggregates: counters, a reason and revenue, under its key."""

    day: date
    segment: Segment
    counters: Mapping[str, int] = field(default_factory=dict)
    reason: tuple[str, str] | None = None
    revenue: tuple[str, Decimal] | None = None
    spans: Mapping[str, float] = field(default_factory=dict)  # speed metric -> seconds


SPANS = ("capture_to_mql", "mql_to_assignment", "assignment_to_verdict")


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


# One change to an aggregate row: (table, key, {column: amount to add}).
Key = tuple[object, ...]
Change = tuple[str, Key, dict[str, int | Decimal]]


ROLLUPS = ("all", *DIMENSIONS)


def rows(part: Contribution) -> dict[tuple[str, Key], dict[str, int | Decimal]]:
    """The aggregate rows a contribution adds to: one per report grouping (`all`, and each
    dimension with the lead's value), so a report grouped by one dimension reads only its own
    rows: a year of them per value, however many leads."""
    values = dataclasses.asdict(part.segment)
    out: dict[tuple[str, Key], dict[str, int | Decimal]] = {}
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


def diff(before: Contribution | None, after: Contribution) -> list[Change]:
    """What to add to each aggregate row so it reflects `after` instead of `before`.

    Rows come sorted by table and key, so concurrent consumers lock them in one order (no
    deadlocks); rows whose change is all zeros are left out.
    """
    total: dict[tuple[str, Key], dict[str, int | Decimal]] = rows(after)
    for where, values in (rows(before) if before else {}).items():
        target = total.setdefault(where, {})
        for column, amount in values.items():
            target[column] = target.get(column, 0) - amount
    changes = [
        (table, key, values)
        for (table, key), values in total.items()
        if any(amount != 0 for amount in values.values())
    ]
    return sorted(changes, key=lambda change: (change[0], tuple(map(str, change[1]))))


def summed(
    contributions: Iterable[Contribution],
) -> dict[tuple[str, Key], dict[str, int | Decimal]]:
    """Aggregates computed from scratch (what the incremental diffs must add up to)."""
    total: dict[tuple[str, Key], dict[str, int | Decimal]] = {}
    for part in contributions:
        for where, values in rows(part).items():
            target = total.setdefault(where, {})
            for column, amount in values.items():
                target[column] = target.get(column, 0) + amount
    return total
