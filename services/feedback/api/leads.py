"""The shared view of every lead: `GET /v1/leads` and `GET /v1/leads/{id}/timeline`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.feedback import repository
from services.feedback.domain.stages import Stage, allowed_verdicts
from services.feedback.schemas import LeadOut, LeadPage, TimelineEntryOut, TimelineOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.problems import Gone, Invalid, NotFound
from shared.service import SessionDep

router = APIRouter(prefix="/v1", tags=["leads"])
Reader = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales, Role.crm))]
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 422)}


@router.get("/leads", response_model=LeadPage, responses=ERRORS)
async def list_leads(
    session: SessionDep,
    _: Reader,
    state: Stage | None = None,
    source: Annotated[str | None, Query(max_length=300)] = None,
    campaign: Annotated[str | None, Query(max_length=300, description="UTM campaign")] = None,
    rep: Annotated[str | None, Query(max_length=300)] = None,
    team: Annotated[str | None, Query(max_length=300)] = None,
    since: Annotated[date | None, Query(alias="from", description="Captured on or after")] = None,
    until: Annotated[date | None, Query(alias="to", description="Captured on or before")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> LeadPage:
    """Leads, newest first, filtered by state, source, campaign, rep, team and capture day."""
    if since and until and since > until:
        raise Invalid.of("the date range is empty", "from", "must not be after `to`")
    filters = {
        column: value
        for column, value in (
            ("stage", state.value if state else None),
            ("source", source),
            ("utm_campaign", campaign),
            ("rep", rep),
            ("team", team),
        )
        if value is not None
    }
    rows = await repository.list_leads(
        session,
        filters=filters,
        since=since,
        until=until,
        limit=limit + 1,
        after=_position(cursor) if cursor else None,
    )
    items = [_lead(row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return LeadPage(
        items=items, next_cursor=f"{last.day.isoformat()}_{last.lead_id}" if last else None
    )


@router.get(
    "/leads/{lead_id}/timeline",
    response_model=TimelineOut,
    responses=ERRORS | {404: {"model": ErrorBody}, 410: {"model": ErrorBody}},
)
async def get_timeline(lead_id: uuid.UUID, session: SessionDep, _: Reader) -> TimelineOut:
    """Every event of the lead in order, with who acted and why."""
    # One snapshot for the three reads: under READ COMMITTED a batch committing between them
    # showed its timeline lines beside a person read before it (email missing, seen once).
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    if await repository.is_erased(session, lead_id):
        raise Gone.of(f"lead {lead_id} was erased", "lead_id", "its person was erased")
    row = await repository.person(session, lead_id)
    if row is None:
        raise NotFound.of(
            f"there is no lead {lead_id}", "lead_id", "feedback has seen no event of it"
        )
    events = await repository.events_of(session, lead_id)
    return TimelineOut(
        lead=_lead(row),
        events=[
            TimelineEntryOut(
                event_id=e.event_id,
                event_type=e.event_type,
                occurred_at=e.occurred_at,
                actor=e.actor,
                summary=e.summary,
                detail=e.detail,
            )
            for e in events
        ],
    )


def _position(cursor: str) -> tuple[date, uuid.UUID]:
    day, _, lead_id = cursor.partition("_")
    try:
        return date.fromisoformat(day), uuid.UUID(lead_id)
    except ValueError:
        raise Invalid.of(
            "the cursor is not one this API gave", "cursor", "pass next_cursor as is"
        ) from None


def _lead(row: Any) -> LeadOut:
    stage = Stage(row.stage)
    return LeadOut(
        lead_id=row.lead_id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        company=row.company,
        job_title=row.job_title,
        country=row.country,
        score=row.score,
        grade=row.grade,
        stage=stage,
        day=row.day,
        source=row.source or None,
        form=row.form or None,
        utm_campaign=row.utm_campaign or None,
        team=row.team or None,
        rep=row.rep or None,
        allowed_verdicts=list(allowed_verdicts(stage)),
    )
