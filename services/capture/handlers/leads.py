"""Leads: capture one (a new person, or a merge into the known one) and erase one.

Both entry points for a lead (web forms and the lead API) end in `capture_submission`: a new
person is one statement that writes the lead with its `lead.captured.v1` event; a known one is
merged under the lead's row lock, its history and event written in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func

from services.capture import cleaning, domain, repository
from services.capture.domain import Submission
from services.capture.models import Lead, idempotent_requests
from services.capture.schemas import LeadAccepted, LeadIn
from shared.events import (
    Attribution,
    Consent,
    Contact,
    LeadCaptured,
    LeadCapturedEvent,
    LeadErased,
    LeadErasedEvent,
)
from shared.idempotency import IdempotencyStore, IdempotentCall
from shared.problems import Conflict, NotFound, Problem
from shared.uow import UnitOfWork

PRODUCER = "capture"
IDEMPOTENCY = IdempotencyStore(idempotent_requests)
CONTACT_FIELDS = set(cleaning.CONTACT_FIELDS)
ATTEMPTS = 3  # a lead erased between our insert and our lock each time: give up after this


# ---- leads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureLead:
    """A lead from the lead API; `once` when the request carried an Idempotency-Key."""

    lead: LeadIn
    once: IdempotentCall | None = None


@dataclass(frozen=True)
class Captured:
    answer: LeadAccepted
    replayed: bool = False  # the first answer to the same Idempotency-Key, given again


async def capture_lead(message: CaptureLead, uow: UnitOfWork) -> Captured:
    """Create or merge the lead, or give the key's first answer again."""
    submission = _submission(message.lead)
    if message.once is None:
        return Captured(await capture_submission(submission, uow))
    if (first := await IDEMPOTENCY.claim(uow.session, message.once)) is not None:
        return Captured(LeadAccepted.model_validate(first.body), replayed=True)
    answer = await capture_submission(submission, uow)
    await IDEMPOTENCY.record(uow.session, message.once, 202, answer)
    return Captured(answer)


def _submission(lead: LeadIn) -> Submission:
    contact = cleaning.clean_contact(
        lead.model_dump(include=CONTACT_FIELDS), default_region=lead.default_region
    )
    given_at = (lead.consent.given_at or datetime.now(UTC)) if lead.consent.given else None
    consent = Consent(
        given=lead.consent.given,
        text_version=lead.consent.text_version,
        given_at=given_at,
        source="api",
    )
    return Submission(contact, consent, Attribution(**lead.attribution.model_dump()), source="api")


async def capture_submission(submission: Submission, uow: UnitOfWork) -> LeadAccepted:
    identity = cleaning.identity_email(submission.contact.email)
    for _ in range(ATTEMPTS):
        lead_id = uuid.uuid4()
        new = repository.NewLead(lead_id, identity, submission, _captured_new(lead_id, submission))
        if await repository.insert_new_lead(new, uow):
            return LeadAccepted(lead_id=lead_id, merged=False)
        if (lead := await repository.lock_lead_by_identity(uow.session, identity)) is not None:
            await _merge(uow, lead, submission)
            return LeadAccepted(lead_id=lead.id, merged=True)
    raise Conflict.of(
        "the lead changed while it was captured", "email", "was erased meanwhile; send it again"
    )


async def _merge(uow: UnitOfWork, lead: Lead, submission: Submission) -> None:
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
        history = {name: list(pair) for name, pair in changes.items()}
        await repository.record_change(uow.session, lead.id, submission.source, history)
    await uow.session.flush()  # the lead's row first, then its event
    payload = LeadCaptured(
        merged=True, contact=contact, consent=consent, first_touch=first, last_touch=last
    )
    await uow.publish(
        LeadCapturedEvent(
            producer=PRODUCER, lead_id=lead.id, correlation_id=lead.correlation_id, payload=payload
        )
    )


def _captured_new(lead_id: uuid.UUID, submission: Submission) -> LeadCapturedEvent:
    touch = submission.attribution
    payload = LeadCaptured(
        merged=False,
        contact=submission.contact,
        consent=submission.consent,
        first_touch=touch,
        last_touch=touch,
    )
    return LeadCapturedEvent(
        producer=PRODUCER, lead_id=lead_id, correlation_id=lead_id, payload=payload
    )


def unknown_lead(lead_id: uuid.UUID) -> NotFound:
    return NotFound(f"there is no lead {lead_id}", [Problem("lead_id", "is not a known lead")])


# ---- erasure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EraseLead:
    lead_id: uuid.UUID
    requested_by: str
    reason: str | None


async def erase_lead(message: EraseLead, uow: UnitOfWork) -> None:
    """The person's data leaves capture and `lead.erased.v1` tells every other service. The
    lead row stays, emptied, so its id answers 410 and a second erasure does nothing; its email
    identity is cleared, so the same address can come back later as a new lead."""
    lead = await repository.lead_by_id(uow.session, message.lead_id, lock=True)
    if lead is None:
        raise unknown_lead(message.lead_id)
    if lead.erased_at is not None:
        return
    lead.email_identity = None
    lead.contact, lead.consent, lead.first_touch, lead.last_touch = {}, {}, {}, {}
    lead.erased_at = lead.updated_at = func.now()
    await repository.delete_changes(uow.session, lead.id)
    await repository.delete_sent_events(uow.session, lead.id)
    await repository.delete_idempotent_answers(uow.session, lead.id)
    await uow.session.flush()
    payload = LeadErased(requested_by=message.requested_by, reason=message.reason)
    await uow.publish(
        LeadErasedEvent(
            producer=PRODUCER, lead_id=lead.id, correlation_id=lead.correlation_id, payload=payload
        )
    )
