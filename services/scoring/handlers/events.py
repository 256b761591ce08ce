"""The events a scoring publishes: lead.scored.v1 when the score, grade or model changed,
lead.mql.v1 when a lead reaches the bar itself or is released from hold."""

from __future__ import annotations

from typing import Any

from services.scoring.domain.scoring import Score
from services.scoring.handlers.placement import Placed
from shared.events import (
    Envelope,
    FiredRule,
    Grade,
    LeadMql,
    LeadMqlEvent,
    LeadScored,
    LeadScoredEvent,
    RoutingProfile,
)

PRODUCER = "scoring"


def outcomes(row: Any, score: Score, placed: Placed, cause: Envelope | None) -> list[Envelope]:
    """What a scoring publishes, in order: lead.scored.v1 when the score, grade or model
    changed, lead.mql.v1 when the lead reached the bar itself. `row` is as before the scoring."""
    events = []
    if (score.total, score.grade, score.model_version) != (row.total, row.grade, row.model_version):
        events.append(scored_event(row, score, placed.threshold, cause))
    if placed.becomes_mql:
        events.append(
            mql_event(row, score.total, score.grade, score.model_version, placed.threshold, cause)
        )
    return events


def scored_event(row: Any, score: Score, threshold: int, cause: Envelope | None) -> Envelope:
    payload = LeadScored(
        total_score=score.total,
        fit_score=score.fit,
        engagement_score=score.engagement,
        grade=Grade(score.grade),
        model_version=score.model_version,
        threshold=threshold,
        explanation=[
            FiredRule(rule=f.rule, points=f.points, kind=f.kind, decayed_value=f.decayed)
            for f in score.fired
        ],
    )
    return LeadScoredEvent(**_envelope(row, cause), payload=payload)


def mql_event(
    row: Any, score: int, grade: str, version: str, threshold: int, cause: Envelope | None
) -> Envelope:
    profile = RoutingProfile(
        country=row.country,
        language=row.language,
        company_size=row.company_size,
        industry=row.industry,
        product_interest=row.product_interest,
        company=row.company,
        job_title=row.job_title,
        company_domain=None if row.free_mail else row.email_domain,
        consent_given=row.consent_given,
    )
    payload = LeadMql(
        score=score,
        grade=Grade(grade),
        model_version=version,
        threshold=threshold,
        profile=profile,
    )
    return LeadMqlEvent(**_envelope(row, cause), payload=payload)


def _envelope(row: Any, cause: Envelope | None) -> dict[str, Any]:
    return {
        "producer": PRODUCER,
        "lead_id": row.lead_id,
        "correlation_id": row.correlation_id,
        "causation_id": cause.event_id if cause else None,
    }
