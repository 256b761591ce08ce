"""All of capture's SQL (the Idempotency-Key store's is in `shared.idempotency`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Table, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture.domain import Submission
from services.capture.models import Form, Lead, LeadChange, idempotent_requests, platform
from shared.events import LeadCapturedEvent
from shared.uow import UnitOfWork

_LEADS, _FORMS = cast(Table, Lead.__table__), cast(Table, Form.__table__)

# The one statement that creates a lead: the lead and its event together, unless a lead with the
# same identity exists. Alone in its unit of work (almost every submission), it is sent on a plain
# driver connection and commits in one round trip (see bench/); otherwise in the transaction.
_INSERT_NEW_LEAD = f"""
WITH lead AS (
    INSERT INTO {_LEADS.fullname}
        (id, email_identity, correlation_id, contact, consent, first_touch, last_touch)
    VALUES ($1, $2, $1, $3::jsonb, $4::jsonb, $5::jsonb, $5::jsonb)
    ON CONFLICT (email_identity) DO NOTHING
    RETURNING id)
INSERT INTO {platform.outbox.fullname} (topic, key, value, headers)
SELECT $6, $7, $8, $9::jsonb FROM lead
RETURNING id"""

_FORM_BY_ID = f"SELECT * FROM {_FORMS.fullname} WHERE id = $1"


@dataclass(frozen=True)
class NewLead:
    """A person seen for the first time, and the event that announces them."""

    lead_id: uuid.UUID
    identity: str
    submission: Submission
    event: LeadCapturedEvent


async def insert_new_lead(lead: NewLead, uow: UnitOfWork) -> bool:
    """Insert the lead and its event, unless a lead with its identity exists (also one committed
    a moment ago): False then, and nothing is written."""
    submission, row = lead.submission, uow.outbox.row(lead.event)
    written = await uow.lone_statement(
        _INSERT_NEW_LEAD,
        lead.lead_id,
        lead.identity,
        submission.contact.model_dump_json(),
        submission.consent.model_dump_json(),
        submission.attribution.model_dump_json(),
        row.topic,
        row.key,
        row.value,
        json.dumps(row.headers),
    )
    if written:
        uow.wrote_outbox()
    return bool(written)


async def lock_lead_by_identity(session: AsyncSession, identity: str) -> Lead | None:
    return await session.scalar(
        select(Lead).where(Lead.email_identity == identity).with_for_update()
    )


async def lead_by_id(
    session: AsyncSession, lead_id: uuid.UUID, *, lock: bool = False
) -> Lead | None:
    query = select(Lead).where(Lead.id == lead_id)
    return await session.scalar(query.with_for_update() if lock else query)


async def record_change(
    session: AsyncSession, lead_id: uuid.UUID, source: str, changes: dict[str, Any]
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


async def delete_idempotent_answers(session: AsyncSession, lead_id: uuid.UUID) -> None:
    """Recorded answers naming the lead: their fingerprints hash bodies that held the person's
    email, and a replay must not be told an erased lead's id. (The table holds only the last
    24 hours; an erasure is rare, so no index for this.)"""
    table = idempotent_requests
    await session.execute(delete(table).where(table.c.response["lead_id"].astext == str(lead_id)))


async def delete_sent_events(session: AsyncSession, lead_id: uuid.UUID) -> None:
    """Published outbox rows still kept for the relay's retention window hold the person's data."""
    outbox = platform.outbox
    await session.execute(
        delete(outbox).where(outbox.c.key == str(lead_id).encode(), outbox.c.sent_at.is_not(None))
    )


async def leads_by_ids_or_identities(
    session: AsyncSession, ids: Collection[uuid.UUID], identities: Collection[str]
) -> list[Row[Any]]:
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


async def form_to_submit(form_id: str, uow: UnitOfWork) -> Form | None:
    """The form, read as a statement of its own: a submission's body is read after this, and a
    client uploading slowly must not hold a connection meanwhile. Detached from any session."""
    rows = await uow.lone_statement(_FORM_BY_ID, form_id)
    return Form(**rows[0]) if rows else None


async def all_forms(session: AsyncSession) -> list[Form]:
    return list(await session.scalars(select(Form).order_by(Form.id)))


async def save_form(
    session: AsyncSession, form_id: str, values: dict[str, Any]
) -> tuple[Form, bool]:
    """Create or replace a form; the flag says whether it is new."""
    existing = await session.scalar(select(Form.id).where(Form.id == form_id).with_for_update())
    form = await session.scalar(
        insert(Form)
        .values(id=form_id, **values)
        .on_conflict_do_update(index_elements=[Form.id], set_=values | {"updated_at": func.now()})
        .returning(Form),
        execution_options={"populate_existing": True},
    )
    assert form is not None  # an upsert always returns its row
    return form, existing is None


async def delete_form(session: AsyncSession, form_id: str) -> bool:
    result = await session.execute(delete(Form).where(Form.id == form_id))
    return bool(getattr(result, "rowcount", 0))
