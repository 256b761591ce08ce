"""Score a lead, place it against the capacity-following threshold, and release MQLs.

The rule itself is in `services.scoring.domain.threshold`; this is where it meets the tables.
Lead row first, then the ledger (see `repository`): one order, no deadlocks.

`evaluate` does it for one lead, with a few statements; `handlers.intake` for a batch of
lead.captured.v1 / lead.activity.v1 events at once, in memory between one read and one write.
Both decide with the same pure steps here — `place`, `changes`, `outcomes`, `to_release` — so
the two paths cannot drift apart (`tests/scoring/test_bulk.py` holds them to the same results).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.document import ScoringModel, ThresholdPolicy
from services.scoring.domain.scoring import Score, score_lead
from services.scoring.domain.standing import Standing
from services.scoring.domain.threshold import (
    Held,
    Threshold,
    effective_threshold,
    free_slots,
    placement,
    releases,
)
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
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
PRODUCER = "scoring"


@dataclass(frozen=True)
class Placed:
    """Where one scoring puts a lead (`place`): what the one-event and the batch path share."""

    state: str
    held_since: datetime | None
    threshold: int  # the effective threshold in force before the lead moved
    becomes_mql: bool
    contends: bool  # may qualify and scores at least the floor: releases may follow


def may_qualify(row: Any, now: datetime) -> bool:
    """Captured and activity events travel on different topics: an activity can arrive before
    the profile. Such a lead waits in nurture; its lead.captured.v1 evaluates it again."""
    standing = Standing(row.state, row.recycles, row.engagement_since, row.cooldown_until)
    return standing.can_qualify(now) and row.captured_at is not None


def contends(policy: ThresholdPolicy, row: Any, score: Score, now: datetime) -> bool:
    return may_qualify(row, now) and score.total >= policy.floor


def top_needed(k: int | None, held: int) -> int:
    """How many of the best held leads the threshold needs: the k-th exists only when k <= held."""
    return k if k is not None and 0 < k <= held else 0


def place(
    policy: ThresholdPolicy, row: Any, score: Score, now: datetime, k: int | None, top: list[Held]
) -> Placed:
    """The lead's new state for `score` (pure). `k` and `top` (the best `top_needed` held leads,
    best first) are as they were before this scoring moved the lead."""
    qualifies = may_qualify(row, now)
    state, held_since = row.state, row.held_since
    if qualifies:
        where = placement(policy, score.total, k)
        state = where
        held_since = (held_since or now) if where == "held" else None
    elif row.state == "recycled" and row.cooldown_until and now >= row.cooldown_until:
        state = "nurture"
    threshold = effective_threshold(policy, k, top).effective
    becomes_mql = state == "mql" and row.state != "mql"
    return Placed(
        state, held_since, threshold, becomes_mql, qualifies and score.total >= policy.floor
    )


def changes(row: Any, score: Score, placed: Placed, now: datetime) -> dict[str, Any]:
    """The lead row's new values after a scoring."""
    values = {
        "state": placed.state,
        "held_since": placed.held_since,
        "total": score.total,
        "fit": score.fit,
        "engagement": score.engagement,
        "grade": score.grade,
        "model_version": score.model_version,
        "explanation": [explain(f) for f in score.fired],
        "threshold": placed.threshold,
        "scored_at": now,
    }
    if placed.becomes_mql:
        values |= {"mql_at": now, "qualifications": row.qualifications + 1}
    return values


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


def to_release(policy: ThresholdPolicy, k: int | None, best: list[Held]) -> tuple[list[Held], int]:
    """The held leads to release now, best first (from the best k held at or above the floor),
    and the threshold their lead.mql.v1 carries."""
    return releases(best, k), effective_threshold(policy, k, best).effective


async def evaluate(
    uow: UnitOfWork,
    lead_id: uuid.UUID,
    now: datetime,
    cause: Envelope | None = None,
    model: ScoringModel | None = None,
    row: Row[Any] | None = None,
) -> Score | None:
    """Rescore one lead and act on it; nothing happens while no model is active. `row` is the
    lead's row when the caller has locked it already. (`handlers.intake` does the same for a
    batch of leads, with the same `place`, `changes`, `outcomes` and `to_release`.)"""
    session = uow.session
    model = model or await repo.active_model(session)
    if model is None:
        return None
    row = row or await repo.lock_lead(session, lead_id)
    if row is None or row.state == "erased":
        return None
    acts = await repo.activities_of(session, lead_id, row.engagement_since)
    score = score_lead(model, repo.profile_of(row), acts, now)
    policy = model.threshold
    # the lead's row, then the ledger (locked when the lead may take a slot)
    capacity = await repo.capacity(session, lock=contends(policy, row, score, now))
    k = free_slots(capacity.team_slots(), capacity.released_total)
    wanted = top_needed(k, capacity.held)
    placed = place(
        policy, row, score, now, k, await repo.held_leads(session, wanted) if wanted else []
    )
    await repo.change_lead(session, lead_id, **changes(row, score, placed, now))
    for event in outcomes(row, score, placed, cause):
        await uow.publish(event)
    if placed.becomes_mql:  # it reached the bar itself: it takes a slot like any release
        released = capacity.released_total + 1
        await repo.change_ledger(session, released_total=released)
        log.info("lead is an MQL", extra={"lead_id": str(lead_id), "score": score.total})
        capacity = replace(capacity, released_total=released)
    if placed.contends and placed.state in ("held", "mql"):
        await release_best(uow, model, now, cause, capacity)
    return score


async def release_best(
    uow: UnitOfWork,
    model: ScoringModel,
    now: datetime,
    cause: Envelope | None,
    capacity: repo.CapacityState | None = None,
) -> int:
    """Release the best held leads up to k, best first. `capacity` is given when the caller
    holds the ledger already; otherwise it is taken here."""
    session = uow.session
    capacity = capacity or await repo.capacity(session, lock=True)
    k = free_slots(capacity.team_slots(), capacity.released_total)
    if k is None or k <= 0:
        return 0
    best = await repo.best_held(session, k, model.threshold.floor)
    chosen, threshold = to_release(model.threshold, k, best)
    released = await repo.release(session, [h.lead_id for h in chosen], now)
    by_id = {row.lead_id: row for row in released}
    for held in chosen:  # best first
        if (row := by_id.get(held.lead_id)) is not None:
            await uow.publish(
                mql_event(row, row.total, row.grade, row.model_version, threshold, cause)
            )
            log.info("held lead released as an MQL", extra={"lead_id": str(row.lead_id)})
    if released:
        await repo.change_ledger(session, released_total=capacity.released_total + len(released))
    return len(released)


async def threshold_in_force(
    session: AsyncSession, model: ScoringModel, capacity: repo.CapacityState | None = None
) -> Threshold:
    capacity = capacity or await repo.capacity(session, lock=False)
    k = free_slots(capacity.team_slots(), capacity.released_total)
    wanted = top_needed(k, capacity.held)
    top = await repo.held_leads(session, wanted) if wanted else []
    threshold = effective_threshold(model.threshold, k, top)
    # only the best k were read: the count is of them all
    return replace(threshold, held=capacity.held)


def explain(fired: Any) -> dict[str, Any]:
    out = {"rule": fired.rule, "points": fired.points, "kind": fired.kind}
    if fired.kind == "engagement":
        out |= {"count": fired.count, "raw": fired.raw, "decayed": fired.decayed}
    return out


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
