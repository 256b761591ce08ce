"""One rep with their SLA record: breaches in their team's window and the share they get."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.routing.api.deps import ERRORS, Reader
from services.routing.api.reps import rep_out
from services.routing.repository import Repository
from services.routing.schemas.reps import RepRecordOut
from shared.problems import NotFound
from shared.service import SessionDep

router = APIRouter(prefix="/v1", tags=["reps"], responses=ERRORS)


@router.get("/reps/{rep_id}")
async def get_rep(rep_id: str, session: SessionDep, _: Reader) -> RepRecordOut:
    """The rep, their load, and their SLA record (a share below 1 gets fewer new leads)."""
    repo = Repository(session)
    rows = await repo.rep_rows_by_id(rep_id)
    if not rows:
        raise NotFound.of("no such rep", "rep_id", f"no rep {rep_id!r}")
    row = rows[0]
    team = await repo.team(row.team_id)
    days = team.breach_window_days if team is not None else 7
    return RepRecordOut(
        **rep_out(row, datetime.now(UTC)).model_dump(),
        breaches_in_window=await repo.breaches_in_window(rep_id, days),
        breach_window_days=days,
        breach_limit=team.breach_limit if team is not None else None,
    )
