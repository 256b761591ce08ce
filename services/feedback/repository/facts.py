"""Lead facts: locked reads and saves (what they add to the aggregates is `aggregates`)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.domain.facts import LeadFacts, Segment, Step
from services.feedback.domain.verdicts import Stage
from services.feedback.models import lead_facts

DIMENSIONS = tuple(field.name for field in dataclasses.fields(Segment))


async def facts_for_update(
    session: AsyncSession, lead_id: uuid.UUID, first_seen: datetime
) -> tuple[LeadFacts, bool]:
    """The lead's facts, locked; `True` with them if this transaction just created them (so
    they are not counted in the aggregates yet). Two transactions creating the same lead's
    facts at once: the second waits for the first and then reads its row."""
    fresh = LeadFacts.first_seen(first_seen)
    created = await session.execute(
        insert(lead_facts)
        .values(lead_id=lead_id, **_row(fresh))
        .on_conflict_do_nothing()
        .returning(lead_facts.c.lead_id)
    )
    if created.first() is not None:
        return fresh, True
    row = (
        await session.execute(
            select(lead_facts).where(lead_facts.c.lead_id == lead_id).with_for_update()
        )
    ).one()
    return _facts(row), False


async def locked_facts(session: AsyncSession, lead_id: uuid.UUID) -> LeadFacts | None:
    query = select(lead_facts).where(lead_facts.c.lead_id == lead_id).with_for_update()
    row = (await session.execute(query)).first()
    return _facts(row) if row else None


async def save_facts(session: AsyncSession, lead_id: uuid.UUID, facts: LeadFacts) -> None:
    await session.execute(
        update(lead_facts).where(lead_facts.c.lead_id == lead_id).values(**_row(facts))
    )


def _row(facts: LeadFacts) -> dict[str, Any]:
    return {
        "day": facts.day,
        **dataclasses.asdict(facts.segment),
        "steps": sorted(step.value for step in facts.steps),
        "stage": facts.stage.value,
        "stage_at": facts.stage_at,
        "captured_at": facts.captured_at,
        "mql_at": facts.mql_at,
        "first_assigned_at": facts.first_assigned_at,
        "assigned_at": facts.assigned_at,
        "first_verdict_at": facts.first_verdict_at,
        "sla_due": facts.sla_due,
        "sla_met": facts.sla_met,
        "reassigned": facts.reassigned,
        "rating": facts.rating,
        "reason_verdict": facts.reason[0] if facts.reason else None,
        "reason_code": facts.reason[1] if facts.reason else None,
        "revenue_currency": facts.revenue[0] if facts.revenue else None,
        "revenue_amount": facts.revenue[1] if facts.revenue else None,
    }


def _facts(row: Row[Any]) -> LeadFacts:
    data = row._mapping
    return LeadFacts(
        day=data["day"],
        segment=Segment(**{name: data[name] for name in DIMENSIONS}),
        steps=frozenset(Step(step) for step in data["steps"]),
        stage=Stage(data["stage"]),
        stage_at=data["stage_at"],
        captured_at=data["captured_at"],
        mql_at=data["mql_at"],
        first_assigned_at=data["first_assigned_at"],
        assigned_at=data["assigned_at"],
        first_verdict_at=data["first_verdict_at"],
        sla_due=data["sla_due"],
        sla_met=data["sla_met"],
        reassigned=data["reassigned"],
        rating=data["rating"],
        reason=(data["reason_verdict"], data["reason_code"]) if data["reason_verdict"] else None,
        revenue=(data["revenue_currency"], data["revenue_amount"])
        if data["revenue_currency"]
        else None,
    )
