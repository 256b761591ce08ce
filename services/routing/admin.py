"""Administration of the sales organisation: teams, reps and rules imported all or nothing. Like
every use case it raises typed errors and never commits."""

from __future__ import annotations

from typing import Any

from services.routing.repository import Repository, reps_t, teams_t
from services.routing.schemas.org import Imported, OrgIn
from services.routing.schemas.reps import RepIn
from shared.problems import Invalid, Problem
from shared.uow import UnitOfWork


async def import_org(org: OrgIn, uow: UnitOfWork) -> Imported:
    """All or nothing: every reference is checked before anything is written."""
    repo = Repository(uow.session)
    team_ids = await repo.team_ids() | {t.id for t in org.teams}
    problems = [
        Problem(f"reps[{i}].team", f"no team {rep.team!r}")
        for i, rep in enumerate(org.reps)
        if rep.team not in team_ids
    ]
    problems += [
        Problem(f"rules[{i}].team", f"no team {rule.team!r}")
        for i, rule in enumerate(org.rules or [])
        if rule.team not in team_ids
    ]
    problems += _duplicates("teams", [t.id for t in org.teams])
    problems += _duplicates("reps", [r.id for r in org.reps])
    problems += _duplicates("rules", [r.name for r in org.rules or []])
    fallbacks = [i for i, t in enumerate(org.teams) if t.fallback]
    problems += [
        Problem(f"teams[{i}].fallback", "only one team can be the fallback") for i in fallbacks[1:]
    ]
    if problems:
        raise Invalid("the organisation was not imported; nothing changed", problems)
    if fallbacks:
        await repo.clear_fallback()
    await repo.upsert(teams_t, [t.model_dump() for t in org.teams], "id")
    await repo.upsert(reps_t, [rep_row(r) for r in org.reps], "id")
    for team_id in {r.team for r in org.reps}:
        await repo.capacity_changed(team_id)
    if org.rules is not None:
        await repo.replace_rules(
            {"name": r.name, "team_id": r.team, "position": i, "conditions": _conditions(r)}
            for i, r in enumerate(org.rules, start=1)
        )
    rules = None if org.rules is None else len(org.rules)
    return Imported(teams=len(org.teams), reps=len(org.reps), rules=rules)


def rep_row(rep: RepIn) -> dict[str, Any]:
    values = rep.model_dump(mode="json", exclude={"team", "out_of_office"})
    values["team_id"] = rep.team
    values["out_of_office"] = [[p.start.isoformat(), p.end.isoformat()] for p in rep.out_of_office]
    return values


def _conditions(rule: Any) -> dict[str, list[str]]:
    return rule.model_dump(exclude={"name", "team"})  # type: ignore[no-any-return]


def _duplicates(section: str, ids: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for i, item in enumerate(ids):
        if item in seen:
            problems.append(Problem(f"{section}[{i}]", f"{item!r} appears twice"))
        seen.add(item)
    return problems
