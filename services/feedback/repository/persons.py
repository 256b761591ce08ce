"""The persons' SQL: who each lead is (set from the events, read with the lead's facts) and
the lead list."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import lead_facts, leads


def _upsert_persons(columns: tuple[str, ...]) -> Any:
    statement = insert(leads)
    return statement.on_conflict_do_update(
        index_elements=[leads.c.lead_id],
        set_={**{name: statement.excluded[name] for name in columns}, "updated_at": func.now()},
    ).returning(leads.c.lead_id)  # RETURNING: insertmanyvalues, one multi-row INSERT


_UPSERT_PERSONS: dict[tuple[str, ...], Any] = {}  # one statement per set of columns, cached


async def upsert_persons(
    session: AsyncSession, persons: Mapping[uuid.UUID, dict[str, Any]]
) -> None:
    """Each person's given fields set (the person created if missing), in one statement per
    set of fields (a batch's events are of one type: one), the rows in lead id order."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for lead_id, values in sorted(persons.items()):
        by_columns.setdefault(tuple(sorted(values)), []).append({"lead_id": lead_id, **values})
    for columns, rows in by_columns.items():
        statement = _UPSERT_PERSONS.get(columns)
        if statement is None:
            statement = _UPSERT_PERSONS[columns] = _upsert_persons(columns)
        await session.execute(statement, rows)


PERSON = [column for column in leads.c if column.name != "lead_id"]


async def person(session: AsyncSession, lead_id: uuid.UUID) -> Any | None:
    """The lead's facts, and who the person is if they are known (and not erased)."""
    query = (
        select(lead_facts, *PERSON)
        .select_from(lead_facts.outerjoin(leads, leads.c.lead_id == lead_facts.c.lead_id))
        .where(lead_facts.c.lead_id == lead_id)
    )
    return (await session.execute(query)).first()


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
