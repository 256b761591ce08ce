"""Assignments: which rep has which lead."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.routing.api.deps import ERRORS, Limit, Offset, Reader
from services.routing.repository import Repository
from services.routing.schemas.assignments import AssignmentOut, AssignmentPage
from shared.auth import Role
from shared.problems import Forbidden
from shared.service import SessionDep

router = APIRouter(prefix="/v1/assignments", tags=["assignments"], responses=ERRORS)

Status = Literal["assigned", "accepted", "closed"]


def assignment_out(row: Any) -> AssignmentOut:
    return AssignmentOut.model_validate(row, from_attributes=True)


@router.get("")
async def list_assignments(
    session: SessionDep,
    principal: Reader,
    rep_id: Annotated[str | None, Query(max_length=64)] = None,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Status | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AssignmentPage:
    """Newest first; a sales key sees its own rep's assignments only."""
    if principal.role is Role.sales:
        if rep_id not in (None, principal.rep_id):
            raise Forbidden.of("a sales key sees its own leads", "rep_id", "not your rep id")
        rep_id = principal.rep_id
    rows = await Repository(session).assignments(
        rep_id=rep_id, team_id=team_id, status=status, limit=limit + 1, offset=offset
    )
    return AssignmentPage(
        items=[assignment_out(r) for r in rows[:limit]],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(rows) > limit else None,
    )
