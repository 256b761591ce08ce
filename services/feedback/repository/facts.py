"""Lead facts: claimed (created if missing, and locked) in bulk, saved in bulk, and locked
one at a time for a verdict (what they add to the aggregates is `aggregates`)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.domain.facts import LeadFacts, Segment, Step
from services.feedback.domain.stages import Stage
from services.feedback.models import erased_leads, lead_facts

DIMENSIONS = tuple(field.name for field in dataclasses.fields(Segment))
WRITTEN = tuple(column.name for column in lead_facts.columns if column.name != "lead_id")


@dataclass(frozen=True)
class Claimed:
    """A lead's facts as they were before the claiming transaction's events, now locked."""

    facts: LeadFacts
    fresh: bool  # created by this claim: not counted in the aggregates yet
    erased: bool  # its person was erased: no person or timeline for it any more


# PostgreSQL 18's `old` in RETURNING: NULL for a row the INSERT created. Each lead's erasure is
# read in the same statement (no round trip of its own). SQLAlchemy's insertmanyvalues sends
# the rows of an executemany of this one cached statement as one multi-row INSERT.
_CLAIM = (
    insert(lead_facts)
    .on_conflict_do_update(
        index_elements=[lead_facts.c.lead_id],
        set_={"day": lead_facts.c.day},  # nothing changes; the row is locked
    )
    .returning(
        *lead_facts.columns,
        literal_column("old.lead_id IS NULL").label("created"),
        literal_column(  # spelt out: SQLAlchemy does not correlate a subquery in RETURNING
            f"EXISTS (SELECT FROM {erased_leads.fullname} AS gone"
            f" WHERE gone.lead_id = {lead_facts.fullname}.lead_id)"
        ).label("erased"),
    )
)
_SAVE = (
    update(lead_facts)
    .where(lead_facts.c.lead_id == bindparam("w_lead_id"))
    .values({name: bindparam(f"w_{name}") for name in WRITTEN})
)


async def claim_facts(
    session: AsyncSession, first_seen: Mapping[uuid.UUID, datetime]
) -> dict[uuid.UUID, Claimed]:
    """The leads' facts, locked, in one statement: a lead not known yet gets the facts of a
    lead first seen at the instant given for it. The rows are taken in lead id order, so two
    transactions claiming overlapping leads never wait for each other in a cycle; and two
    creating the same lead at once: the second waits for the first, then locks its row."""
    if not first_seen:
        return {}
    params = [
        {"lead_id": lead_id, **_row(LeadFacts.first_seen(first_seen[lead_id]))}
        for lead_id in sorted(first_seen)
    ]
    rows = (await session.execute(_CLAIM, params)).all()
    return {row.lead_id: Claimed(_facts(row), row.created, row.erased) for row in rows}


async def locked_facts(session: AsyncSession, lead_id: uuid.UUID) -> LeadFacts | None:
    query = select(lead_facts).where(lead_facts.c.lead_id == lead_id).with_for_update()
    row = (await session.execute(query)).first()
    return _facts(row) if row else None


async def save_facts(session: AsyncSession, facts: Mapping[uuid.UUID, LeadFacts]) -> None:
    """The leads' facts written whole (locked already), in one executemany."""
    if facts:
        await session.execute(
            _SAVE,
            [
                {"w_lead_id": lead_id} | {f"w_{name}": value for name, value in _row(f).items()}
                for lead_id, f in sorted(facts.items())
            ],
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
