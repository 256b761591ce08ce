"""Behavioural events: what leads do (page views, downloads, demo requests), one or a batch.

Each item is judged on its own: a bad or unknown item is rejected with its reasons while the rest
are recorded, so the body is parsed here item by item instead of as one request model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, status
from pydantic import SkipValidation, TypeAdapter, ValidationError
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture import domain, repository
from services.capture.intake import PRODUCER
from services.capture.schemas import (
    MAX_ACTIVITIES,
    ActivitiesAccepted,
    ActivityBatchIn,
    ActivityIn,
    ActivityResult,
)
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody, FieldError, error_response, validation_errors
from shared.events import LeadActivity, LeadActivityEvent
from shared.service import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1", tags=["activities"])

_activity = TypeAdapter(ActivityIn)
# Validated by hand, item by item; the annotation only documents the body in OpenAPI.
ActivitiesBody = Annotated[SkipValidation[ActivityIn | ActivityBatchIn], Body()]


@dataclass
class Item:
    index: int
    activity: ActivityIn | None = None
    identity: str | None = None
    errors: list[FieldError] | None = None
    lead: Row | None = None


@router.post(
    "/activities",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ActivitiesAccepted,
    response_model_exclude_none=True,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
async def post_activities(
    body: ActivitiesBody,
    session: SessionDep,
    runtime: RuntimeDep,
    _: Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.crm))],
):
    """Record one activity or a batch of up to 1,000: each item is accepted or rejected alone.

    More than 1,000 items get 422 naming `activities`; a request none of whose items can be
    recorded gets 422 naming each item's fields (`activities.<index>.<field>` in a batch).
    """
    try:
        raw_items, batch = _items_of(body)
    except BadShape as error:
        return error_response(422, "the request is invalid", [error.problem])
    items = [_parse(index, raw) for index, raw in enumerate(raw_items)]
    await _resolve_leads(session, items)
    accepted = [item for item in items if not item.errors]
    if not accepted:
        return error_response(
            422,
            "no activity could be recorded",
            [
                FieldError(
                    field=f"activities.{item.index}.{error.field}" if batch else error.field,
                    reason=error.reason,
                )
                for item in items
                for error in item.errors
            ],
        )
    for item in accepted:
        await runtime.outbox.add(session, _event(item))
    return ActivitiesAccepted(accepted=len(accepted), results=[_result(item) for item in items])


class BadShape(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.problem = FieldError(field=field, reason=reason)


def _items_of(body: Any) -> tuple[list, bool]:
    """The raw items, and whether they came as a batch."""
    if not isinstance(body, dict):
        raise BadShape("body", 'must be a JSON object: one activity or {"activities": [...]}')
    if "activities" not in body:
        return [body], False
    if unknown := sorted(set(body) - {"activities"}):
        raise BadShape(unknown[0], 'is not a field of a batch; send only {"activities": [...]}')
    items = body["activities"]
    if not isinstance(items, list) or not items:
        raise BadShape("activities", "must be a non-empty list")
    if len(items) > MAX_ACTIVITIES:
        raise BadShape("activities", f"has {len(items)} items; send at most {MAX_ACTIVITIES}")
    return items, True


def _parse(index: int, raw: object) -> Item:
    try:
        activity = _activity.validate_python(raw)
    except ValidationError as error:
        return Item(index, errors=validation_errors(error.errors()))
    if (activity.lead_id is None) == (activity.email is None):
        return Item(
            index,
            errors=[FieldError(field="lead_id", reason="give exactly one of lead_id and email")],
        )
    if activity.email is None:
        return Item(index, activity)
    try:
        email = domain.clean_email(activity.email.strip())
    except ValueError as error:
        return Item(index, errors=[FieldError(field="email", reason=str(error))])
    return Item(index, activity, identity=domain.identity_email(email))


async def _resolve_leads(session: AsyncSession, items: list[Item]) -> None:
    """Find every item's lead with one query for the whole batch."""
    valid = [item for item in items if not item.errors]
    ids = {item.activity.lead_id for item in valid if item.activity.lead_id}
    identities = {item.identity for item in valid if item.identity}
    rows = await repository.leads_by_ids_or_identities(session, ids, identities)
    by_id = {row.id: row for row in rows}
    by_identity = {row.email_identity: row for row in rows if row.email_identity}
    for item in valid:
        item.lead = by_id.get(item.activity.lead_id) or by_identity.get(item.identity)
        item.errors = _lead_problems(item)


def _lead_problems(item: Item) -> list[FieldError] | None:
    field = "email" if item.identity else "lead_id"
    if item.lead is None:
        return [FieldError(field=field, reason="is not a known lead")]
    if item.lead.erased_at is not None:
        return [FieldError(field=field, reason="the lead was erased")]
    return None


def _event(item: Item) -> LeadActivityEvent:
    activity = item.activity
    happened_at = activity.happened_at or datetime.now(UTC)
    payload = LeadActivity(
        activity_type=activity.activity_type,
        happened_at=happened_at,
        properties=activity.properties,
    )
    return LeadActivityEvent(
        producer=PRODUCER,
        lead_id=item.lead.id,
        correlation_id=item.lead.correlation_id,
        payload=payload,
    )


def _result(item: Item) -> ActivityResult:
    if item.errors:
        return ActivityResult(index=item.index, status="rejected", errors=item.errors)
    return ActivityResult(index=item.index, lead_id=item.lead.id, status="accepted")
