"""The SQL of a batch of lead events (`handlers.intake`): a few statements a batch.

Locks in the one order of `repository`: the batch's leads first, in lead id order (two batches
touching the same leads lock them in the same order), then the ledger, then other held leads
only with `SKIP LOCKED`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.scoring import Activity
from services.scoring.models import activities, leads

# every column a batch may change: all but the key and the creation time
WRITTEN = tuple(c.name for c in leads.columns if c.name not in ("lead_id", "created_at"))
_WRITE = (
    update(leads)
    .where(leads.c.lead_id == bindparam("w_lead_id"))
    .values({name: bindparam(f"w_{name}") for name in WRITTEN})
)


_CLAIM = (
    insert(leads)
    .on_conflict_do_update(
        index_elements=[leads.c.lead_id],
        set_={"correlation_id": leads.c.correlation_id},  # nothing changes; the row is locked
        where=leads.c.state != "erased",
    )
    .returning(leads)
)  # executemanys (SQLAlchemy's insertmanyvalues): one cached statement, any count of rows


def _ids(lead_ids: Sequence[uuid.UUID]) -> Any:
    return any_(bindparam("ids", list(lead_ids), type_=ARRAY(leads.c.lead_id.type)))


async def claim_leads(session: AsyncSession, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Create the leads not known yet and lock them all, in one statement; an erased lead is
    left out. The rows are as they were before the batch (a new one with the defaults). Rows
    are locked in lead id order, so two batches touching the same leads take them alike."""
    if not lead_ids:
        return {}
    rows = (await session.execute(_CLAIM, [{"lead_id": i} for i in sorted(lead_ids)])).all()
    return {row.lead_id: row for row in rows}


async def activities_of(
    session: AsyncSession, lead_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Activity]]:
    """Every activity of the leads, in the order they were added."""
    a = activities.c
    query = (
        select(a.lead_id, a.activity_type, a.happened_at, a.properties)
        .where(a.lead_id == _ids(lead_ids))
        .order_by(a.id)
    )
    found: dict[uuid.UUID, list[Activity]] = defaultdict(list)
    for lead_id, *activity in (await session.execute(query)).all():
        found[lead_id].append(Activity(*activity))
    return found


async def add_activities(
    session: AsyncSession, added: Sequence[tuple[uuid.UUID, Activity]]
) -> None:
    if added:
        await session.execute(
            insert(activities).returning(activities.c.id),  # RETURNING: one multi-row INSERT
            [
                {
                    "lead_id": lead_id,
                    "activity_type": activity.activity_type,
                    "happened_at": activity.happened_at,
                    "properties": dict(activity.properties),
                }
                for lead_id, activity in added
            ],
        )


async def held_rows(session: AsyncSession, limit: int, *, lock: bool) -> list[Row[Any]]:
    """The best held leads, best first; with `lock`, those no other transaction holds."""
    query = (
        select(leads)
        .where(leads.c.state == "held")
        .order_by(leads.c.total.desc(), leads.c.held_since, leads.c.lead_id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).all())


async def write_leads(session: AsyncSession, rows: Sequence[Any]) -> None:
    """Every given lead row written whole (its `WRITTEN` columns), in one executemany."""
    if rows:
        await session.execute(
            _WRITE,
            [
                {"w_lead_id": row.lead_id} | {f"w_{name}": getattr(row, name) for name in WRITTEN}
                for row in rows
            ],
        )
