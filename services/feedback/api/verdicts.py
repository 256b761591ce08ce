"""Sales' verdicts: `POST /v1/feedback`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from services.feedback.handlers.verdicts import GiveVerdict, give_verdict
from services.feedback.schemas import VerdictIn, VerdictOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.idempotency import KEY_PARAMETER, REPLAYED_HEADER, IdempotentCall, fingerprint, key_of
from shared.service import UowDep

router = APIRouter(prefix="/v1", tags=["feedback"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 410, 422)
}


@router.post(
    "/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=VerdictOut,
    responses=ERRORS,
    openapi_extra=KEY_PARAMETER,
)
async def post_feedback(
    verdict: VerdictIn,
    uow: UowDep,
    principal: Annotated[Principal, Depends(RoleRequired(Role.sales, Role.crm))],
    request: Request,
    response: Response,
) -> VerdictOut:
    """Give a verdict on a lead; it becomes a lead.feedback.v1 event."""
    call = None
    if (idempotency_key := key_of(request.scope["headers"])) is not None:
        call = IdempotentCall(
            principal.key_id, idempotency_key, fingerprint("POST /v1/feedback", verdict)
        )
    given = await give_verdict(
        GiveVerdict(
            lead_id=verdict.lead_id,
            verdict=verdict.verdict,
            reason_code=verdict.reason_code,
            note=verdict.note,
            quality_rating=verdict.quality_rating,
            deal_value=verdict.deal_value,
            currency=verdict.currency,
            role=principal.role.value,
            key_rep_id=principal.rep_id,
            key_name=principal.name,
            idempotency=call,
        ),
        uow,
    )
    if given.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return given.answer
