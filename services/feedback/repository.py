"""All of feedback's SQL: the read model, lead facts, the aggregates and the report queries."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, and_, case, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.domain.facts import Change, LeadFacts, Segment, Step
from services.feedback.domain.timeline import Entry
from services.feedback.domain.verdicts import Stage
from services.feedback.models import (
    capacity_day,
    erased_leads,
    flow_day,
    lead_facts,
    leads,
    reason_day,
    revenue_day,
    segment_day,
    speed_day,
    timeline,
)
from shared.events import SalesCapacity

AGGREGATES = {
    "segment_day": segment_day,
    "reason_day": reason_day,
    "revenue_day": revenue_day,
    "speed_day": speed_day,
}
DIMENSIONS = tuple(field.name for field in dataclasses.fields(Segment))

# ---- erasure -----------------------------------------------------------------------------------


async def is_erased(session: AsyncSession, lead_id: uuid.UUID) -> bool:
    found = await session.execute(
        select(erased_leads.c.lead_id).where(erased_leads.c.lead_id == lead_id)
    )
    return found.first() is not None


async def erase(session: AsyncSession, lead_id: uuid.UUID, at: datetime) -> None:
    """The person leaves the read model; the lead's facts (no personal data) stay for reports."""
    await session.execute(
        insert(erased_leads).values(lead_id=lead_id, erased_at=at).on_conflict_do_nothing()
    )
    await session.execute(delete(timeline).where(timeline.c.lead_id == lead_id))
    await session.execute(delete(leads).where(leads.c.lead_id == lead_id))


# ---- the read model ----------------------------------------------------------------------------


async def upsert_person(session: AsyncSession, lead_id: uuid.UUID, **values: Any) -> None:
    statement = insert(leads).values(lead_id=lead_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[leads.c.lead_id], set_={**values, "updated_at": func.now()}
        )
    )


async def add_to_timeline(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    lead_id: uuid.UUID,
    occurred_at: datetime,
    event_type: str,
    entry: Entry,
) -> None:
    await session.execute(
        insert(timeline)
        .values(
            event_id=event_id,
            lead_id=lead_id,
            occurred_at=occurred_at,
            event_type=event_type,
            actor=entry.actor[:300],
            summary=entry.summary,
            detail=entry.detail,
        )
        .on_conflict_do_nothing()
    )


PERSON = [column for column in leads.c if column.name != "lead_id"]


async def person(session: AsyncSession, lead_id: uuid.UUID) -> Any | None:
    """The lead's facts, and who the person is if they are known (and not erased)."""
    query = (
        select(lead_facts, *PERSON)
        .select_from(lead_facts.outerjoin(leads, leads.c.lead_id == lead_facts.c.lead_id))
        .where(lead_facts.c.lead_id == lead_id)
    )
    return (await session.execute(query)).first()


async def events_of(session: AsyncSession, lead_id: uuid.UUID) -> Sequence[Any]:
    query = (
        select(timeline)
        .where(timeline.c.lead_id == lead_id)
        .order_by(timeline.c.occurred_at, timeline.c.id)
    )
    return (await session.execute(query)).all()


async def list_leads(
    session: AsyncSession,
    *,
    filters: dict[str, str],
    since: date | None,
    until: date | None,
    limit: int,
    after: tuple[date, uuid.UUID] | None,
) -> Sequence[Any]:
    """Newest cohort first, keyset-paginated on (day, lead_id); erased people are not listed."""
    query = select(lead_facts, *PERSON).select_from(
        lead_facts.join(leads, leads.c.lead_id == lead_facts.c.lead_id)
    )
    for column, value in filters.items():
        query = query.where(lead_facts.c[column] == value)
    if since is not None:
        query = query.where(lead_facts.c.day >= since)
    if until is not None:
        query = query.where(lead_facts.c.day <= until)
    if after is not None:
        query = query.where(tuple_(lead_facts.c.day, lead_facts.c.lead_id) < tuple_(*after))
    query = query.order_by(lead_facts.c.day.desc(), lead_facts.c.lead_id.desc()).limit(limit)
    return (await session.execute(query)).all()


# ---- lead facts and the aggregates they feed ---------------------------------------------------


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


async def add_to_aggregates(session: AsyncSession, changes: Sequence[Change]) -> None:
    """Each change adds to one aggregate row (created at zero if missing), in the given order."""
    for table_name, key, values in changes:
        table = AGGREGATES[table_name]
        key_columns = [column.name for column in table.primary_key.columns]
        statement = insert(table).values(**dict(zip(key_columns, key, strict=True)), **values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=key_columns,
                set_={column: table.c[column] + statement.excluded[column] for column in values},
            )
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


# ---- flow against capacity ---------------------------------------------------------------------


async def record_threshold(
    session: AsyncSession, day: date, threshold: int, at: datetime, *, mql: bool
) -> None:
    """The threshold in force that day (lowest, highest, latest) and, for an MQL, one more."""
    statement = insert(flow_day).values(
        day=day,
        mqls=int(mql),
        threshold_min=threshold,
        threshold_max=threshold,
        threshold_last=threshold,
        threshold_at=at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[flow_day.c.day],
            set_={
                "mqls": flow_day.c.mqls + statement.excluded.mqls,
                "threshold_min": func.least(flow_day.c.threshold_min, threshold),
                "threshold_max": func.greatest(flow_day.c.threshold_max, threshold),
                "threshold_last": _when(
                    flow_day.c.threshold_at <= at,
                    statement.excluded.threshold_last,
                    flow_day.c.threshold_last,
                ),
                "threshold_at": func.greatest(flow_day.c.threshold_at, at),
            },
        )
    )


async def record_capacity(session: AsyncSession, capacity: SalesCapacity, at: datetime) -> None:
    """The team's latest report that day, and the longest queue it reported."""
    values = capacity.model_dump(exclude={"team_id"}, include=set(_CAPACITY))
    statement = insert(capacity_day).values(
        day=at.date(),
        team_id=capacity.team_id,
        queue_max=capacity.queue_length,
        reported_at=at,
        **values,
    )
    newer = capacity_day.c.reported_at <= at
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[capacity_day.c.day, capacity_day.c.team_id],
            set_={
                **{
                    name: _when(newer, statement.excluded[name], capacity_day.c[name])
                    for name in _CAPACITY
                },
                "queue_max": func.greatest(capacity_day.c.queue_max, capacity.queue_length),
                "reported_at": func.greatest(capacity_day.c.reported_at, at),
            },
        )
    )


_CAPACITY = ("reps_available", "total_capacity", "open_load", "free_slots", "queue_length")


def _when(condition: Any, then: Any, otherwise: Any) -> Any:
    return case((condition, then), else_=otherwise)


# ---- report queries ----------------------------------------------------------------------------


def _in_range(table: Any, since: date, until: date) -> Any:
    return and_(table.c.day >= since, table.c.day <= until)


def _rollup(table: Any, since: date, until: date, group_by: str | None) -> tuple[list[Any], Any]:
    """An aggregate's rows for one grouping: its value as `group`, and the filter."""
    where = and_(_in_range(table, since, until), table.c.dimension == (group_by or "all"))
    return ([table.c.value.label("group")] if group_by else []), where


async def segment_sums(
    session: AsyncSession, since: date, until: date, group_by: str | None, columns: Sequence[str]
) -> Sequence[Any]:
    group, where = _rollup(segment_day, since, until, group_by)
    sums = [func.sum(segment_day.c[name]).label(name) for name in columns]
    query = select(*group, *sums).where(where)
    if group_by:
        # A group left empty by leads that moved to another (say, from no rep to a rep) is
        # not a group: every lead counts 1 in `lead`.
        query = query.group_by(*group).having(func.sum(segment_day.c.lead) > 0).order_by(*group)
    return (await session.execute(query)).all()


async def reason_sums(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> Sequence[Any]:
    group, where = _rollup(reason_day, since, until, group_by)
    query = (
        select(
            *group,
            reason_day.c.verdict,
            reason_day.c.reason_code,
            func.sum(reason_day.c.leads).label("leads"),
        )
        .where(where)
        .group_by(*group, reason_day.c.verdict, reason_day.c.reason_code)
    )
    return (await session.execute(query)).all()


async def revenue_sums(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> Sequence[Any]:
    group, where = _rollup(revenue_day, since, until, group_by)
    query = (
        select(*group, revenue_day.c.currency, func.sum(revenue_day.c.amount).label("amount"))
        .where(where)
        .group_by(*group, revenue_day.c.currency)
    )
    return (await session.execute(query)).all()


async def speed_buckets(
    session: AsyncSession, since: date, until: date, group_by: str | None
) -> Sequence[Any]:
    """Each group's duration histogram per speed metric: (group, metric, bucket, leads)."""
    group, where = _rollup(speed_day, since, until, group_by)
    query = (
        select(
            *group,
            speed_day.c.metric,
            speed_day.c.bucket,
            func.sum(speed_day.c.leads).label("leads"),
        )
        .where(where)
        .group_by(*group, speed_day.c.metric, speed_day.c.bucket)
        .having(func.sum(speed_day.c.leads) > 0)
    )
    return (await session.execute(query)).all()


async def flow(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = select(flow_day).where(_in_range(flow_day, since, until)).order_by(flow_day.c.day)
    return (await session.execute(query)).all()


async def capacity(session: AsyncSession, since: date, until: date) -> Sequence[Any]:
    query = (
        select(capacity_day)
        .where(_in_range(capacity_day, since, until))
        .order_by(capacity_day.c.day, capacity_day.c.team_id)
    )
    return (await session.execute(query)).all()


def as_decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))
