"""Capture's routes."""

from __future__ import annotations

from datetime import UTC, datetime

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse

from services.capture import domain
from services.capture.intake import Submission, capture_lead
from services.capture.schemas import LeadAccepted, LeadIn
from shared.auth import Principal, Role, require
from shared.errors import ErrorBody, FieldError, error_response
from shared.events import Attribution, Consent
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1", tags=["leads"])

CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "job_title", "company",
                  "company_size", "industry", "country", "language")


def invalid_lead(error: domain.InvalidLead) -> JSONResponse:
    return error_response(422, "the lead is invalid",
                          [FieldError(field=p.field, reason=p.reason) for p in error.problems])


@router.post("/leads", status_code=status.HTTP_202_ACCEPTED, response_model=LeadAccepted,
             responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                        422: {"model": ErrorBody}})
async def post_lead(lead: LeadIn, session: SessionDep, runtime: RuntimeDep,
                    _: Annotated[Principal, Depends(require(Role.marketing, Role.crm))]):
    """Capture one lead from a server-side integration."""
    try:
        contact = domain.clean_contact(lead.model_dump(include=set(CONTACT_FIELDS)),
                                       default_region=lead.default_region)
    except domain.InvalidLead as error:
        return invalid_lead(error)
    consent = Consent(given=lead.consent.given, text_version=lead.consent.text_version,
                      given_at=lead.consent.given_at or (datetime.now(UTC) if lead.consent.given else None),
                      source="api")
    attribution = Attribution(**lead.attribution.model_dump())
    captured = await capture_lead(session, runtime.outbox,
                                  Submission(contact, consent, attribution, source="api"))
    return LeadAccepted(lead_id=captured.lead_id, merged=captured.merged)
