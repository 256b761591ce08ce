"""What the reports count about each lead, and how each event changes it.

Every lead has one `LeadFacts`: its cohort day (the day it was captured), its segment (the
dimensions reports group by), the funnel steps it has reached, its stage and its milestones.
How those facts add to the aggregate tables is `domain.aggregates`.

Events arrive on different topics, so their order across topics is not guaranteed: a stage
from an event applies only if the event is not older than the stage the lead is in, and the
steps a later stage implies are counted with it (an assignment implies MQL and SQL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from services.feedback.domain.stages import Stage, stage_after_assignment
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
