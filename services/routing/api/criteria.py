"""The SQL criteria: drafted, approved by marketing and sales, then active."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.routing.api.deps import ERRORS, Approver, Reader
from services.routing.criteria import approve_criteria, criteria_out, draft_criteria, edit_criteria
from services.routing.repository import Repository
from services.routing.schemas.criteria import CriteriaIn, CriteriaOut
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1/criteria", tags=["criteria"], responses=ERRORS)


@router.get("")
async def list_criteria(session: SessionDep, _: Reader) -> list[CriteriaOut]:
    """Every version, newest first; at most one is active."""
    return [criteria_out(r) for r in await Repository(session).criteria_versions()]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_criteria(criteria: CriteriaIn, uow: UowDep, _: Approver) -> CriteriaOut:
    """A new draft version; it applies once marketing and sales have both approved it."""
    return await draft_criteria(criteria, uow)


@router.put("/{version}")
async def change_criteria(
    version: int, criteria: CriteriaIn, uow: UowDep, _: Approver
) -> CriteriaOut:
    """Change a draft; approvals already given are cleared."""
    return await edit_criteria(version, criteria, uow)


@router.post("/{version}/approvals")
async def approve(version: int, uow: UowDep, principal: Approver) -> CriteriaOut:
    """The caller's side approves (a marketing or a sales key)."""
    return await approve_criteria(version, principal, uow)
