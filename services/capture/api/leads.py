"""The lead API for server-side integrations: capture, read and erase a lead."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, status
from fastapi.responses import JSONResponse

from services.capture import domain, repository
from services.capture.erasure import Erasure, erase_lead
from services.capture.idempotency import HEADER, IdempotentCall, fingerprint
from services.capture.intake import Submission, capture_lead, capture_lead_in
from services.capture.models import Lead
from services.capture.schemas import Erased, ErasureIn, LeadAccepted, LeadChangeOut, LeadIn, LeadOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody, FieldError, error_response
from shared.events import Attribution, Consent, Contact
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1", tags=["leads"])

CONTACT_FIELDS = set(domain.CONTACT_FIELDS)

ERRORS = {401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody}}
LEAD_ERRORS = ERRORS | {404: {"model": ErrorBody}}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=200,
        description="Retry safely: the same key and body within 24 h get the first answer again.",
    ),
]


def invalid_lead(error: domain.InvalidLead) -> JSONResponse:
    return error_response(
        422,
        "the lead is invalid",
        [FieldError(field=p.field, reason=p.reason) for p in error.problems],
    )


def unknown_lead(lead_id: uuid.UUID) -> JSONResponse:
    return error_response(
        404,
        f"there is no lead {lead_id}",
        [FieldError(field="lead_id", reason="is not a known lead")],
    )


def erased_lead(lead: Lead) -> JSONResponse:
    return error_response(
        410,
        f"lead {lead.id} was erased at {lead.erased_at.isoformat()}; its data is gone",
        [FieldError(field="lead_id", reason="the lead was erased")],
    )


@router.post(
    "/leads",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=LeadAccepted,
    responses=ERRORS | {409: {"model": ErrorBody}},
)
async def post_lead(
    lead: LeadIn,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.crm))],
    idempotency_key: IdempotencyKey = None,
):
    """Capture one lead from a server-side integration."""
    try:
        submission = _submission(lead)
    except domain.InvalidLead as error:
        return invalid_lead(error)
    if idempotency_key is None:
        captured = await capture_lead(runtime, submission)
        return LeadAccepted(lead_id=captured.lead_id, merged=captured.merged)
    call = IdempotentCall(principal.key_id, idempotency_key, fingerprint("POST /v1/leads", lead))
    async with runtime.sessions() as session, session.begin():
        if (stored := await call.claim(session)) is not None:
            return call.replay(stored)
        captured = await capture_lead_in(session, runtime.outbox, submission)
        accepted = LeadAccepted(lead_id=captured.lead_id, merged=captured.merged)
        await call.record(session, status.HTTP_202_ACCEPTED, accepted)
    return accepted


def _submission(lead: LeadIn) -> Submission:
    contact = domain.clean_contact(
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


@router.get(
    "/leads/{lead_id}", response_model=LeadOut, responses=LEAD_ERRORS | {410: {"model": ErrorBody}}
)
async def get_lead(
    lead_id: uuid.UUID,
    session: SessionDep,
    _: Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales, Role.crm))],
):
    """A lead's contact, consent, first and last touch, and the history of its merges."""
    lead = await repository.lead_by_id(session, lead_id)
    if lead is None:
        return unknown_lead(lead_id)
    if lead.erased_at is not None:
        return erased_lead(lead)
    history = await repository.changes_of(session, lead.id)
    return LeadOut(
        lead_id=lead.id,
        contact=Contact.model_validate(lead.contact),
        consent=Consent.model_validate(lead.consent),
        first_touch=Attribution.model_validate(lead.first_touch),
        last_touch=Attribution.model_validate(lead.last_touch),
        created_at=lead.created_at,
        updated_at=lead.updated_at,
        history=[
            LeadChangeOut(source=c.source, changed_at=c.changed_at, changes=c.changes)
            for c in history
        ],
    )


@router.post(
    "/leads/{lead_id}/erase",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Erased,
    responses=LEAD_ERRORS,
)
async def post_erasure(
    lead_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(RoleRequired(Role.marketing))],
    erasure: Annotated[ErasureIn | None, Body()] = None,
):
    """Erase a person: anonymise the lead here and tell every service through lead.erased.v1."""
    outcome = await erase_lead(
        session,
        runtime.outbox,
        lead_id,
        requested_by=principal.name,
        reason=erasure.reason if erasure else None,
    )
    if outcome is Erasure.unknown:
        return unknown_lead(lead_id)
    return Erased(lead_id=lead_id)
