"""Erasing a person: their data leaves capture and `lead.erased.v1` tells every other service.

The lead row stays, emptied, so its id answers 410 instead of 404 and a second erase is a no-op;
its email identity is cleared, so the same address can come back later as a new lead.
"""

from __future__ import annotations

import uuid
from enum import Enum

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture import repository
from services.capture.intake import PRODUCER
from services.capture.models import Lead
from shared.events import LeadErased, LeadErasedEvent
from shared.outbox import Outbox


class Erasure(Enum):
    erased = "erased"
    already_erased = "already_erased"
    unknown = "unknown"


async def erase_lead(
    session: AsyncSession,
    outbox: Outbox,
    lead_id: uuid.UUID,
    *,
    requested_by: str,
    reason: str | None,
) -> Erasure:
    lead = await repository.lead_by_id(session, lead_id, lock=True)
    if lead is None:
        return Erasure.unknown
    if lead.erased_at is not None:
        return Erasure.already_erased
    _anonymise(lead)
    await repository.delete_changes(session, lead.id)
    await repository.delete_sent_events(session, lead.id)
    await session.flush()
    await outbox.add(
        session,
        LeadErasedEvent(
            producer=PRODUCER,
            lead_id=lead.id,
            correlation_id=lead.correlation_id,
            payload=LeadErased(requested_by=requested_by, reason=reason),
        ),
    )
    return Erasure.erased


def _anonymise(lead: Lead) -> None:
    lead.email_identity = None
    lead.contact, lead.consent, lead.first_touch, lead.last_touch = {}, {}, {}, {}
    lead.erased_at = lead.updated_at = func.now()
