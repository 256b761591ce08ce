"""Leads: profile, score and standing; activities; erasure."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.scoring import Activity, Profile
from services.scoring.models import activities, leads

PROFILE_FIELDS = tuple(Profile.__dataclass_fields__)


async def claim_lead(
    session: AsyncSession, lead_id: uuid.UUID, correlation: uuid.UUID | None, **profile: Any
) -> Row[Any] | None:
    """Create or update the lead and lock its row, in one statement; None once it is erased."""
    statement = insert(leads).values(lead_id=lead_id, correlation_id=correlation, **profile)
    excluded = statement.excluded
    keep = {"correlation_id": func.coalesce(leads.c.correlation_id, excluded.correlation_id)}
    statement = statement.on_conflict_do_update(
        index_elements=[leads.c.lead_id],
        set_=keep | {name: getattr(excluded, name) for name in profile},
        where=leads.c.state != "erased",
    )
    row: Row[Any] | None = (await session.execute(statement.returning(leads))).first()
    return row


async def lock_lead(session: AsyncSession, lead_id: uuid.UUID) -> Row[Any] | None:
    query = select(leads).where(leads.c.lead_id == lead_id).with_for_update()
    return (await session.execute(query)).first()


async def lead(session: AsyncSession, lead_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(select(leads).where(leads.c.lead_id == lead_id))).first()


async def change_lead(session: AsyncSession, lead_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(leads).where(leads.c.lead_id == lead_id).values(**values))


def profile_of(row: Row[Any]) -> Profile:
    mapping = row._mapping
    return Profile(**{name: mapping[name] for name in PROFILE_FIELDS})


async def add_activity(session: AsyncSession, lead_id: uuid.UUID, activity: Activity) -> None:
    await session.execute(
        activities.insert().values(
            lead_id=lead_id,
            activity_type=activity.activity_type,
            happened_at=activity.happened_at,
            properties=dict(activity.properties),
        )
    )


async def activities_of(
    session: AsyncSession, lead_id: uuid.UUID, since: datetime | None
) -> list[Activity]:
    query = select(activities.c.activity_type, activities.c.happened_at, activities.c.properties)
    query = query.where(activities.c.lead_id == lead_id)
    if since is not None:
        query = query.where(activities.c.happened_at >= since)
    return [Activity(*row) for row in (await session.execute(query)).all()]


async def due_for_decay(
    session: AsyncSession, scored_before: datetime, limit: int
) -> list[uuid.UUID]:
    """Leads whose engagement is decaying and who could still change place, oldest score first."""
    query = (
        select(leads.c.lead_id)
        .where(
            leads.c.state.in_(("held", "nurture", "recycled")),
            leads.c.engagement > 0,
            leads.c.scored_at < scored_before,
        )
        .order_by(leads.c.scored_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def erase(session: AsyncSession, lead_id: uuid.UUID) -> None:
    """Every profile field copied from capture goes, with the activities and the explanation."""
    await session.execute(activities.delete().where(activities.c.lead_id == lead_id))
    blank: Mapping[str, Any] = {name: None for name in PROFILE_FIELDS} | {
        "free_mail": False,
        "disposable_email": False,
        "consent_given": False,
    }
    await change_lead(
        session,
        lead_id,
        **blank,
        state="erased",
        correlation_id=None,
        total=None,
        fit=None,
        engagement=None,
        grade=None,
        explanation=None,
        threshold=None,
        outcome=None,
        model_version=None,
        scored_at=None,
        captured_at=None,
        held_since=None,
        mql_at=None,
        qualifications=0,
        recycles=0,
        engagement_since=None,
        cooldown_until=None,
    )
