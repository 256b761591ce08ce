"""Teams: their SLA, strategy and capacity now; rules that send leads to them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.routing.admin import import_org
from services.routing.api.deps import ERRORS, Admin, Reader
from services.routing.domain.capacity import capacity
from services.routing.repository import QueueStats, Repository
from services.routing.schemas.org import OrgIn
from services.routing.schemas.teams import CapacityOut, RuleIn, RuleOut, TeamIn, TeamOut
from shared.problems import Invalid
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1", tags=["teams"], responses=ERRORS)


@router.get("/teams")
async def list_teams(session: SessionDep, _: Reader) -> list[TeamOut]:
    """Every team with its capacity now and its queue."""
    repo, now = Repository(session), datetime.now(UTC)
    stats = await repo.queue_stats()
    result = []
    for row in await repo.team_rows():
        snapshot = capacity(await repo.team_reps(row.id), now)
        queue = stats.get(row.id, QueueStats(0, None))
        result.append(
            TeamOut(
                **TeamIn.model_validate(row, from_attributes=True).model_dump(),
                capacity=CapacityOut(
                    **snapshot.__dict__,
                    queue_length=queue.length,
                    oldest_queued_age_s=queue.oldest_age_s(now),
                ),
            )
        )
    return result


@router.put("/teams/{team_id}")
async def put_team(team_id: str, team: TeamIn, uow: UowDep, _: Admin) -> TeamIn:
    """Add or change a team (admin)."""
    if team.id != team_id:
        raise Invalid.of("the path and the body disagree", "id", f"must be {team_id!r}")
    await import_org(OrgIn(teams=[team]), uow)
    return team


@router.get("/rules")
async def list_rules(session: SessionDep, _: Reader) -> list[RuleOut]:
    """The routing rules in order: the first whose conditions all hold names the team."""
    return [
        RuleOut(name=r.name, team=r.team_id, position=r.position, **r.conditions)
        for r in await Repository(session).rule_rows()
    ]


@router.put("/rules")
async def put_rules(rules: list[RuleIn], uow: UowDep, _: Admin) -> list[RuleIn]:
    """Replace every rule, in this order (admin)."""
    await import_org(OrgIn(rules=rules), uow)
    return rules
