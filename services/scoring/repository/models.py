"""Scoring models: their rows, approvals, history, the active one, rescoring progress."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.document import ScoringModel, model_from_data
from services.scoring.models import (
    leads,
    model_history,
    models,
)

ACTIVE_MODEL_TTL_S = 1.0  # another instance's activation is seen within this long
_parsed: dict[str, ScoringModel] = {}  # versions are immutable once active: parse each once
_active: tuple[float, ScoringModel | None] = (0.0, None)  # (valid until, model)


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
