"""Recording a cleaned submission: create or merge the lead and publish `lead.captured.v1`.

Both entry points (web forms and the server-to-server lead API) end here. The lead and its outbox
row always commit together or not at all: a new person in one statement, a merge in one
transaction (`capture_lead`), or inside a caller's transaction (`capture_lead_in`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture import domain, repository
from services.capture.models import Lead
from shared.events import Attribution, Consent, Contact, LeadCaptured, LeadCapturedEvent
from shared.outbox import Outbox
from shared.service import Runtime

PRODUCER = "capture"


@dataclass(frozen=True)
class Submission:
    contact: Contact
    consent: Consent
    attribution: Attribution
    source: str


@dataclass(frozen=True)
class Captured:
    lead_id: uuid.UUID
    merged: bool


async def capture_lead(runtime: Runtime, submission: Submission) -> Captured:
    """Record a submission; it is committed when this returns."""
    lead_id = uuid.uuid4()
    identity = domain.identity_email(submission.contact.email)
    touch = submission.attribution.model_dump_json()
    event = _captured(
        lead_id,
        lead_id,
        submission.contact,
        submission.consent,
        submission.attribution,
        submission.attribution,
        merged=False,
    )
    if await repository.insert_new_lead_with_event(
        runtime.statements,
        lead_id,
        identity,
        submission.contact.model_dump_json(),
        submission.consent.model_dump_json(),
        touch,
        runtime.outbox.row(event),
    ):
        return Captured(lead_id, merged=False)
    async with runtime.sessions() as session, session.begin():
        return await capture_lead_in(session, runtime.outbox, submission)


async def capture_lead_in(
    session: AsyncSession, outbox: Outbox, submission: Submission
) -> Captured:
    """Record a submission inside the caller's transaction."""
    identity = domain.identity_email(submission.contact.email)
    lead = await repository.lock_lead_by_identity(session, identity)
    if lead is None:
        lead_id = uuid.uuid4()
        if await repository.insert_lead_if_new(session, _new_lead(lead_id, identity, submission)):
            await _publish(
                outbox,
                session,
                lead_id,
                lead_id,
                submission.contact,
                submission.consent,
                submission.attribution,
                submission.attribution,
                merged=False,
            )
            return Captured(lead_id, merged=False)
        lead = await repository.lock_lead_by_identity(session, identity)
    await _merge(session, outbox, lead, submission)
    return Captured(lead.id, merged=True)


def _new_lead(lead_id: uuid.UUID, identity: str, submission: Submission) -> dict:
    touch = submission.attribution.model_dump(mode="json")
    return dict(
        id=lead_id,
        email_identity=identity,
        correlation_id=lead_id,
        contact=submission.contact.model_dump(mode="json"),
        consent=submission.consent.model_dump(mode="json"),
        first_touch=touch,
        last_touch=touch,
    )


async def _merge(session: AsyncSession, outbox: Outbox, lead: Lead, submission: Submission) -> None:
    before = Contact.model_validate(lead.contact)
    contact = domain.merge_contact(before, submission.contact)
    first, last = domain.touches(
        Attribution.model_validate(lead.first_touch), submission.attribution
    )
    consent = (
        submission.consent if submission.consent.given else Consent.model_validate(lead.consent)
    )
    changes = domain.changed_fields(before, contact)
    lead.contact = contact.model_dump(mode="json")
    lead.consent = consent.model_dump(mode="json")
    lead.first_touch = first.model_dump(mode="json")
    lead.last_touch = last.model_dump(mode="json")
    lead.updated_at = func.now()
    if changes:
        await repository.record_change(
            session,
            lead.id,
            submission.source,
            {name: list(pair) for name, pair in changes.items()},
        )
    await _publish(
        outbox, session, lead.id, lead.correlation_id, contact, consent, first, last, merged=True
    )


async def _publish(
    outbox: Outbox,
    session: AsyncSession,
    lead_id: uuid.UUID,
    correlation_id: uuid.UUID,
    contact: Contact,
    consent: Consent,
    first: Attribution,
    last: Attribution,
    *,
    merged: bool,
) -> None:
    await session.flush()
    await outbox.add(
        session, _captured(lead_id, correlation_id, contact, consent, first, last, merged=merged)
    )


def _captured(
    lead_id: uuid.UUID,
    correlation_id: uuid.UUID,
    contact: Contact,
    consent: Consent,
    first: Attribution,
    last: Attribution,
    *,
    merged: bool,
) -> LeadCapturedEvent:
    payload = LeadCaptured(
        merged=merged, contact=contact, consent=consent, first_touch=first, last_touch=last
    )
    return LeadCapturedEvent(
        producer=PRODUCER, lead_id=lead_id, correlation_id=correlation_id, payload=payload
    )
