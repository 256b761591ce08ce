"""All of capture's SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import Row, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture.models import Form, IdempotentRequest, Lead, LeadChange, platform
from shared.db import StatementPool
from shared.outbox import OutboxRow

# A new lead and its event in one statement, so one round trip commits both. This is the path
# almost every submission takes, hence plain SQL on the driver rather than the ORM (see bench/).
_INSERT_NEW_LEAD_WITH_EVENT = f"""
WITH lead AS (
    INSERT INTO {Lead.__table__.fullname}
        (id, email_identity, correlation_id, contact, consent, first_touch, last_touch)
    VALUES ($1, $2, $1, $3::jsonb, $4::jsonb, $5::jsonb, $5::jsonb)
    ON CONFLICT (email_identity) DO NOTHING
    RETURNING id)
INSERT INTO {platform.outbox.fullname} (topic, key, value, headers)
SELECT $6, $7, $8, $9::jsonb FROM lead
RETURNING id"""


async def lock_lead_by_identity(session: AsyncSession, identity: str) -> Lead | None:
    return await session.scalar(
        select(Lead).where(Lead.email_identity == identity).with_for_update()
    )


async def lead_by_id(
    session: AsyncSession, lead_id: uuid.UUID, *, lock: bool = False
) -> Lead | None:
    query = select(Lead).where(Lead.id == lead_id)
    return await session.scalar(query.with_for_update() if lock else query)


async def insert_new_lead_with_event(
    statements: StatementPool,
    lead_id: uuid.UUID,
    identity: str,
    contact: str,
    consent: str,
    touch: str,
    event: OutboxRow,
) -> bool:
    """Outside any transaction: insert the lead (JSON given as text) and its event as one atomic
    statement, unless a lead with this identity exists; False then, and nothing is written."""
    async with statements.acquire() as connection:
        written = await connection.fetchval(
            _INSERT_NEW_LEAD_WITH_EVENT,
            lead_id,
            identity,
            contact,
            consent,
            touch,
            event.topic,
            event.key,
            event.value,
            json.dumps(event.headers),
        )
    return written is not None


async def insert_lead_if_new(session: AsyncSession, values: dict) -> bool:
    """Insert unless a lead with the same identity exists (also one committed a moment ago)."""
    inserted = await session.scalar(
        insert(Lead)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Lead.email_identity])
        .returning(Lead.id)
    )
    return inserted is not None


async def record_change(
    session: AsyncSession, lead_id: uuid.UUID, source: str, changes: dict
) -> None:
    session.add(LeadChange(lead_id=lead_id, source=source, changes=changes))


async def changes_of(session: AsyncSession, lead_id: uuid.UUID) -> list[LeadChange]:
    """The lead's history, oldest first."""
    return list(
        await session.scalars(
            select(LeadChange).where(LeadChange.lead_id == lead_id).order_by(LeadChange.id)
        )
    )


async def delete_changes(session: AsyncSession, lead_id: uuid.UUID) -> None:
    await session.execute(delete(LeadChange).where(LeadChange.lead_id == lead_id))


async def delete_sent_events(session: AsyncSession, lead_id: uuid.UUID) -> None:
    """Published outbox rows still kept for the relay's retention window hold the person's data."""
    outbox = platform.outbox
    await session.execute(
        delete(outbox).where(outbox.c.key == str(lead_id).encode(), outbox.c.sent_at.is_not(None))
    )


async def leads_by_ids_or_identities(
    session: AsyncSession, ids: Collection[uuid.UUID], identities: Collection[str]
) -> list[Row]:
    """Leads matching any of the ids or email identities, in one query (erased ones too).

    Share-locked, so an erasure running meanwhile either waits for the caller's events to be
    written first or is seen, instead of being followed by events about the erased person.
    """
    if not ids and not identities:
        return []
    return list(
        await session.execute(
            select(Lead.id, Lead.email_identity, Lead.correlation_id, Lead.erased_at)
            .where(or_(Lead.id.in_(list(ids)), Lead.email_identity.in_(list(identities))))
            .with_for_update(read=True)
        )
    )


# ---- forms ------------------------------------------------------------------------------------


async def form_by_id(session: AsyncSession, form_id: str) -> Form | None:
    return await session.get(Form, form_id)


async def all_forms(session: AsyncSession) -> list[Form]:
    return list(await session.scalars(select(Form).order_by(Form.id)))


async def save_form(session: AsyncSession, form_id: str, values: dict) -> tuple[Form, bool]:
    """Create or replace a form; the flag says whether it is new."""
    existing = await session.scalar(select(Form.id).where(Form.id == form_id).with_for_update())
    form = await session.scalar(
        insert(Form)
        .values(id=form_id, **values)
        .on_conflict_do_update(index_elements=[Form.id], set_=values | {"updated_at": func.now()})
        .returning(Form),
        execution_options={"populate_existing": True},
    )
    return form, existing is None


async def delete_form(session: AsyncSession, form_id: str) -> bool:
    return (await session.execute(delete(Form).where(Form.id == form_id))).rowcount > 0


# ---- idempotency keys -------------------------------------------------------------------------

IN_PROGRESS = 0  # status of a claimed key whose answer is not written yet (never visible outside)


async def claim_idempotency_key(
    session: AsyncSession,
    api_key_id: uuid.UUID,
    key: str,
    request_hash: str,
    *,
    expired_after: timedelta,
) -> bool:
    """Insert the key's row, or take over an expired one; False when a live one exists. A
    concurrent claim of the same key waits here until the first transaction ends."""
    claimed = await session.scalar(
        insert(IdempotentRequest)
        .values(
            api_key_id=api_key_id,
            idempotency_key=key,
            request_hash=request_hash,
            status_code=IN_PROGRESS,
            response={},
        )
        .on_conflict_do_update(
            index_elements=[IdempotentRequest.api_key_id, IdempotentRequest.idempotency_key],
            set_=dict(
                request_hash=request_hash,
                status_code=IN_PROGRESS,
                response={},
                created_at=func.now(),
            ),
            where=IdempotentRequest.created_at < func.now() - expired_after,
        )
        .returning(IdempotentRequest.api_key_id)
    )
    return claimed is not None


async def idempotent_answer(
    session: AsyncSession, api_key_id: uuid.UUID, key: str
) -> IdempotentRequest | None:
    return await session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.api_key_id == api_key_id, IdempotentRequest.idempotency_key == key
        )
    )


async def record_idempotent_answer(
    session: AsyncSession, api_key_id: uuid.UUID, key: str, status_code: int, response: dict
) -> None:
    await session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.api_key_id == api_key_id, IdempotentRequest.idempotency_key == key)
        .values(status_code=status_code, response=response)
    )


async def prune_idempotency_keys(
    session: AsyncSession, *, expired_after: timedelta, limit: int
) -> None:
    """Drop a few expired answers; SKIP LOCKED keeps off others' claims."""
    expired = (
        select(IdempotentRequest.api_key_id, IdempotentRequest.idempotency_key)
        .where(IdempotentRequest.created_at < func.now() - expired_after)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    key = tuple_(IdempotentRequest.api_key_id, IdempotentRequest.idempotency_key)
    await session.execute(delete(IdempotentRequest).where(key.in_(expired)))
