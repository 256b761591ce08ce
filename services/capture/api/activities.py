"""Behavioural events: what leads do (page views, downloads, demo requests), one or a batch.

Each item is judged on its own (see `handlers.record_activities`), so the body is taken as it
came and parsed item by item instead of as one request model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, status
from pydantic import SkipValidation

from services.capture import handlers
from services.capture.api.documented import JSON_BODY, KEYED
from services.capture.schemas import ActivitiesAccepted, ActivityBatchIn, ActivityIn
from shared.auth import Principal, Role, RoleRequired
from shared.service import UowDep

router = APIRouter(prefix="/v1", tags=["activities"])

# Validated by hand, item by item; the annotation only documents the body in OpenAPI.
ActivitiesBody = Annotated[SkipValidation[ActivityIn | ActivityBatchIn], Body()]


@router.post(
    "/activities",
    status_code=status.HTTP_202_ACCEPTED,
    response_model_exclude_none=True,
    responses=KEYED | JSON_BODY,
)
async def post_activities(
    body: ActivitiesBody,
    uow: UowDep,
    _: Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.crm))],
) -> ActivitiesAccepted:
    """Record one activity or a batch of up to 1,000: each item is accepted or rejected alone.

    More than 1,000 items get 422 naming `activities`; a request none of whose items can be
    recorded gets 422 naming each item's fields (`activities.<index>.<field>` in a batch).
    """
    return await handlers.record_activities(body, uow)
