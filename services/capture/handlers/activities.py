"""Behavioural events: each item of a request judged on its own, the good ones published."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.capture import repository
from services.capture.handlers.leads import PRODUCER
from services.capture.schemas import ActivitiesAccepted, ActivityResult
from services.capture.schemas.activities import ActivityItem, activity_items
from shared.errors import FieldError
from shared.events import LeadActivity, LeadActivityEvent
from shared.problems import Invalid, Problem
from shared.uow import UnitOfWork

# ---- activities -------------------------------------------------------------------------------


async def record_activities(body: object, uow: UnitOfWork) -> ActivitiesAccepted:
    """Each item is judged on its own: a bad or unknown item is rejected with its reasons while
    the rest are recorded; `Invalid` when none can be."""
    items, batch = activity_items(body)
    leads = await _leads_of(items, uow)
    accepted = [(item, leads[item.index]) for item in items if not item.errors]
    if not accepted:
        problems = [
            Problem(
                f"activities.{item.index}.{error.field}" if batch else error.field, error.reason
            )
            for item in items
            for error in item.errors
        ]
        raise Invalid("no activity could be recorded", problems)
    for item, lead in accepted:
        assert item.activity is not None
        payload = LeadActivity(
            activity_type=item.activity.activity_type,
            happened_at=item.activity.happened_at or datetime.now(UTC),
            properties=item.activity.properties,
        )
        await uow.publish(
            LeadActivityEvent(
                producer=PRODUCER,
                lead_id=lead.id,
                correlation_id=lead.correlation_id,
                payload=payload,
            )
        )
    return ActivitiesAccepted(
        accepted=len(accepted),
        results=[_result(item, leads.get(item.index)) for item in items],
    )


async def _leads_of(items: list[ActivityItem], uow: UnitOfWork) -> dict[int, Any]:
    """Every valid item's lead, found with one query for the whole batch; an item whose lead is
    unknown or erased gets its error instead."""
    valid = [item for item in items if not item.errors and item.activity is not None]
    ids = {item.activity.lead_id for item in valid if item.activity and item.activity.lead_id}
    identities = {item.identity for item in valid if item.identity}
    rows = await repository.leads_by_ids_or_identities(uow.session, ids, identities)
    by_id = {row.id: row for row in rows}
    by_identity = {row.email_identity: row for row in rows if row.email_identity}
    leads = {}
    for item in valid:
        assert item.activity is not None
        lead = by_id.get(item.activity.lead_id) or by_identity.get(item.identity)
        field = "email" if item.identity else "lead_id"
        if lead is None:
            item.errors = [FieldError(field=field, reason="is not a known lead")]
        elif lead.erased_at is not None:
            item.errors = [FieldError(field=field, reason="the lead was erased")]
        else:
            leads[item.index] = lead
    return leads


def _result(item: ActivityItem, lead: Any) -> ActivityResult:
    if item.errors:
        return ActivityResult(index=item.index, status="rejected", errors=item.errors)
    return ActivityResult(index=item.index, lead_id=lead.id, status="accepted")
