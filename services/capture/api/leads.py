"""The lead API for server-side integrations: capture, read and erase a lead."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response, status

from services.capture import handlers, repository
from services.capture.api.documented import JSON_BODY, KEYED, refusals
from services.capture.handlers import CaptureLead, EraseLead
from services.capture.schemas import Erased, ErasureIn, LeadAccepted, LeadChangeOut, LeadIn, LeadOut
from shared.auth import Principal, Role, RoleRequired
from shared.events import Attribution, Consent, Contact
from shared.idempotency import KEY_PARAMETER, REPLAYED_HEADER, IdempotentCall, fingerprint, key_of
from shared.problems import Gone, Problem
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1", tags=["leads"])

LEAD_ERRORS = KEYED | refusals(404)


@router.post(
    "/leads",
    status_code=status.HTTP_202_ACCEPTED,
    responses=KEYED | JSON_BODY | refusals(409),
    openapi_extra=KEY_PARAMETER,
)
async def post_lead(
    lead: LeadIn,
    uow: UowDep,
    principal: Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.crm))],
    request: Request,
    response: Response,
) -> LeadAccepted:
    """Capture one lead from a server-side integration."""
    once = None
    if (idempotency_key := key_of(request.scope["headers"])) is not None:
        once = IdempotentCall(
            principal.key_id, idempotency_key, fingerprint("POST /v1/leads", lead)
        )
    captured = await handlers.capture_lead(CaptureLead(lead, once), uow)
    if captured.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return captured.answer


@router.get("/leads/{lead_id}", responses=LEAD_ERRORS | refusals(410))
async def get_lead(
    lead_id: uuid.UUID,
    session: SessionDep,
    _: Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales, Role.crm))],
) -> LeadOut:
    """A lead's contact, consent, first and last touch, and the history of its merges."""
    lead = await repository.lead_by_id(session, lead_id)
    if lead is None:
        raise handlers.unknown_lead(lead_id)
    if lead.erased_at is not None:
        raise Gone(
            f"lead {lead.id} was erased at {lead.erased_at.isoformat()}; its data is gone",
            [Problem("lead_id", "the lead was erased")],
        )
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
    responses=LEAD_ERRORS | JSON_BODY,
)
async def post_erasure(
    lead_id: uuid.UUID,
    uow: UowDep,
    principal: Annotated[Principal, Depends(RoleRequired(Role.marketing))],
    erasure: Annotated[ErasureIn | None, Body()] = None,
) -> Erased:
    """Erase a person: anonymise the lead here and tell every service through lead.erased.v1."""
    reason = erasure.reason if erasure else None
    await handlers.erase_lead(EraseLead(lead_id, principal.name, reason), uow)
    return Erased(lead_id=lead_id)
