"""All of scoring's SQL.

Locks, in the one order every transaction takes them, so no two can wait on each other: a lead's
own row (`lock_lead`, `claim_lead`), then the capacity ledger (`capacity(lock=True)`); other
leads' rows only with `SKIP LOCKED` while the ledger is held (`best_held`). Releases are
conditional updates (`state = 'held'`), so a lead is never released twice, even by two instances.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.document import ScoringModel, model_from_data
from services.scoring.domain.scoring import Activity, Profile
from services.scoring.domain.threshold import Held, TeamSlots
from services.scoring.models import (
    activities,
    capacity_ledger,
    leads,
    learning_facts,
    model_history,
    models,
    team_capacity,
)

PROFILE_FIELDS = tuple(Profile.__dataclass_fields__)
ACTIVE_MODEL_TTL_S = 1.0  # another instance's activation is seen within this long
_parsed: dict[str, ScoringModel] = {}  # versions are immutable once active: parse each once
_active: tuple[float, ScoringModel | None] = (0.0, None)  # (valid until, model)


# ---- models ----------------------------------------------------------------------------------


async def active_model(session: AsyncSession) -> ScoringModel | None:
    """The active model, read at most once a second per process: a lead scored meanwhile with the
    model just retired is rescored by the rescoring job, which finds every lead whose version
    is not the active one."""
    global _active
    if _active[0] > time.monotonic():
        return _active[1]
    model = await _read_active_model(session)
    _active = (time.monotonic() + ACTIVE_MODEL_TTL_S, model)
    return model


def forget_active_model() -> None:
    global _active
    _active = (0.0, None)


async def _read_active_model(session: AsyncSession) -> ScoringModel | None:
    row = (
        await session.execute(
            select(models.c.version, models.c.document).where(models.c.status == "active")
        )
    ).first()
    if row is None:
        return None
    if row.version not in _parsed:
        _parsed[row.version] = model_from_data(row.document)
    return _parsed[row.version]


async def model_row(session: AsyncSession, version: str, *, lock: bool = False) -> Row[Any] | None:
    query = select(models).where(models.c.version == version)
    return (await session.execute(query.with_for_update() if lock else query)).first()


async def model_rows(session: AsyncSession) -> Sequence[Row[Any]]:
    return (await session.execute(select(models).order_by(models.c.created_at.desc()))).all()


async def add_model(session: AsyncSession, version: str, document: dict[str, Any], by: str) -> bool:
    inserted = await session.scalar(
        insert(models)
        .values(version=version, document=document, created_by=by, updated_by=by)
        .on_conflict_do_nothing()
        .returning(models.c.version)
    )
    return inserted is not None


async def change_model(session: AsyncSession, version: str, **values: Any) -> None:
    await session.execute(update(models).where(models.c.version == version).values(**values))


async def retire_active(session: AsyncSession, now: datetime) -> str | None:
    retired: str | None = await session.scalar(
        update(models)
        .where(models.c.status == "active")
        .values(status="retired", retired_at=now)
        .returning(models.c.version)
    )
    return retired


async def record_history(session: AsyncSession, version: str, action: str, by: str) -> None:
    await session.execute(model_history.insert().values(version=version, action=action, by=by))


async def history(session: AsyncSession, version: str) -> Sequence[Row[Any]]:
    query = select(model_history).where(model_history.c.version == version)
    return (await session.execute(query.order_by(model_history.c.id))).all()


async def rescoring_progress(session: AsyncSession, version: str) -> tuple[int, int]:
    """(leads scored with `version`, leads there are), erased leads aside."""
    done = func.count().filter(leads.c.model_version == version)
    row = (await session.execute(select(done, func.count()).where(leads.c.state != "erased"))).one()
    return int(row[0]), int(row[1])


async def not_scored_with(session: AsyncSession, version: str, limit: int) -> list[uuid.UUID]:
    query = (
        select(leads.c.lead_id)
        .where(leads.c.state != "erased", leads.c.model_version.is_distinct_from(version))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


# ---- leads -----------------------------------------------------------------------------------


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
        held_since=None,
        mql_at=None,
        qualifications=0,
        recycles=0,
        engagement_since=None,
        cooldown_until=None,
    )


async def add_learning_fact(session: AsyncSession, **values: Any) -> None:
    await session.execute(learning_facts.insert().values(id=uuid.uuid4(), **values))


# ---- capacity and releases -------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityState:
    """The ledger and every team's latest state, summed, read in one statement."""

    released_total: int
    teams: int
    slots: int  # Σ free_slots − Σ queue_length
    oldest_mark: int
    held: int

    def team_slots(self) -> list[TeamSlots]:
        """The teams as one: k is the same (see `domain.threshold.free_slots`)."""
        return [TeamSlots(self.slots, 0, self.oldest_mark)] if self.teams else []


async def capacity(session: AsyncSession, *, lock: bool) -> CapacityState:
    """With `lock`, the ledger row stays locked until the transaction ends."""
    t = team_capacity.c
    query = select(
        capacity_ledger.c.released_total,
        select(func.count()).select_from(team_capacity).scalar_subquery(),
        select(func.coalesce(func.sum(t.free_slots - t.queue_length), 0)).scalar_subquery(),
        select(func.coalesce(func.min(t.released_mark), 0)).scalar_subquery(),
        select(func.count()).where(leads.c.state == "held").scalar_subquery(),
    )
    row = (
        await session.execute(query.with_for_update(of=capacity_ledger) if lock else query)
    ).one()
    return CapacityState(*(int(value) for value in row))


async def ledger(session: AsyncSession) -> Row[Any]:
    return (await session.execute(select(capacity_ledger))).one()


async def save_team(session: AsyncSession, event_id: uuid.UUID, at: datetime, **state: Any) -> bool:
    """Keep a team's newest state; False when a newer one is already kept."""
    statement = insert(team_capacity).values(event_id=event_id, published_at=at, **state)
    saved = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[team_capacity.c.team_id],
            set_={**state, "event_id": event_id, "published_at": at},
            where=team_capacity.c.published_at <= at,
        ).returning(team_capacity.c.team_id)
    )
    return saved is not None


async def change_ledger(session: AsyncSession, **values: Any) -> None:
    await session.execute(update(capacity_ledger).values(**values))


async def held_leads(session: AsyncSession, limit: int | None = None) -> list[Held]:
    query = _held().limit(limit)
    return [Held(*row) for row in (await session.execute(query)).all()]


async def best_held(session: AsyncSession, limit: int, floor: int) -> list[Held]:
    """The best held leads not locked by another transaction (that one will release its own)."""
    query = _held().where(leads.c.total >= floor).limit(limit).with_for_update(skip_locked=True)
    return [Held(*row) for row in (await session.execute(query)).all()]


def _held() -> Select[Any]:
    return (
        select(leads.c.lead_id, leads.c.total, leads.c.held_since)
        .where(leads.c.state == "held")
        .order_by(leads.c.total.desc(), leads.c.held_since, leads.c.lead_id)
    )


async def release(
    session: AsyncSession, lead_ids: list[uuid.UUID], now: datetime
) -> list[Row[Any]]:
    """Held -> MQL, conditionally: a lead already released by anyone is not released again."""
    statement = (
        update(leads)
        .where(leads.c.lead_id.in_(lead_ids), leads.c.state == "held")
        .values(state="mql", mql_at=now, qualifications=leads.c.qualifications + 1)
        .returning(leads)
    )
    return list((await session.execute(statement)).all())


async def install_active_model(database_url: str, text: str, *, by: str) -> bool:
    """For `handoff up`: make `text` the active model, approved by both sides as `by`, unless a
    model is active already. True when it was installed."""
    from services.scoring.domain.document import parse_model
    from shared.db import create_engine, session_factory

    model = parse_model(text)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            if await session.scalar(select(models.c.version).where(models.c.status == "active")):
                return False
            document = model.model_dump(mode="json", exclude_none=True)
            if not await add_model(session, model.version, document, by):
                return False
            now = func.now()
            await change_model(
                session,
                model.version,
                status="active",
                marketing_approved_by=by,
                marketing_approved_at=now,
                sales_approved_by=by,
                sales_approved_at=now,
                activated_by=by,
                activated_at=now,
            )
            for action in ("created", "approved:marketing", "approved:sales", "activated"):
                await record_history(session, model.version, action, by)
        forget_active_model()
        return True
    finally:
        await engine.dispose()


async def team_states(session: AsyncSession) -> Sequence[Row[Any, Any, Any, Any]]:
    t = team_capacity.c
    query = select(t.team_id, t.free_slots, t.queue_length, t.published_at).order_by(t.team_id)
    return (await session.execute(query)).all()
