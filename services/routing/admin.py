"""Administration use cases: the sales organisation and the SQL criteria. Like every use case
they raise typed errors and never commit."""

from __future__ import annotations

import uuid
from typing import Any

from services.routing.domain.criteria import APPROVING_ROLES, CriteriaError, Rules, Status
from services.routing.repository import Repository, reps_t, teams_t, to_criteria
from services.routing.schemas import CriteriaIn, CriteriaOut, Imported, OrgIn, RepIn
from shared.auth import Principal, Role
from shared.problems import Conflict, Forbidden, Invalid, NotFound, Problem
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


# ---- SQL criteria -----------------------------------------------------------------------------


def _rules(criteria: CriteriaIn) -> Rules:
    return Rules(
        required_fields=tuple(criteria.required_fields),
        min_grade=criteria.min_grade,
        min_score=criteria.min_score,
        consent_required=criteria.consent_required,
        excluded_countries=frozenset(criteria.excluded_countries),
        excluded_industries=frozenset(criteria.excluded_industries),
        excluded_company_sizes=frozenset(criteria.excluded_company_sizes),
    )


def criteria_out(row: Any) -> CriteriaOut:
    return CriteriaOut(
        version=row.version,
        status=row.status,
        rules=CriteriaIn.model_validate(row.rules),
        approvals=row.approvals,
        missing_approvals=[r for r in APPROVING_ROLES if r not in row.approvals]
        if row.status == Status.draft
        else [],
        created_at=row.created_at,
        activated_at=row.activated_at,
    )


async def draft_criteria(criteria: CriteriaIn, uow: UnitOfWork) -> CriteriaOut:
    repo = Repository(uow.session)
    version = await repo.add_criteria(_rules(criteria))
    return criteria_out(await repo.criteria_row(version))


async def edit_criteria(version: int, criteria: CriteriaIn, uow: UnitOfWork) -> CriteriaOut:
    """A draft's new text; approvals given to the old text are cleared."""
    repo = Repository(uow.session)
    current = to_criteria(await _criteria_row(repo, version))
    try:
        edited = current.edited(_rules(criteria))
    except CriteriaError as error:
        raise Conflict.of("only a draft can be edited", error.field, error.reason) from None
    await repo.save_criteria(edited, {})
    return criteria_out(await repo.criteria_row(version))


async def approve_criteria(version: int, by: Principal, uow: UnitOfWork) -> CriteriaOut:
    """Marketing's or sales' approval; with both, the version becomes the active one."""
    if by.role.value not in APPROVING_ROLES:
        raise Forbidden.of(
            "criteria are approved by a marketing key and a sales key", "role", by.role.value
        )
    repo = Repository(uow.session)
    row = await _criteria_row(repo, version)
    try:
        approved = to_criteria(row).approved_by(by.role.value)
    except CriteriaError as error:
        raise Conflict.of("only a draft can be approved", error.field, error.reason) from None
    await repo.save_criteria(approved, dict(row.approvals) | {by.role.value: by.name})
    return criteria_out(await repo.criteria_row(version))


async def install_agreed_criteria(criteria: CriteriaIn, uow: UnitOfWork, *, by: str) -> CriteriaOut:
    """Criteria both sides agreed outside the API (the demo, a benchmark, a test's setup):
    drafted, then approved as marketing and as sales, each approval in the name `by`."""
    draft = await draft_criteria(criteria, uow)
    for role in (Role.marketing, Role.sales):
        approved = await approve_criteria(
            draft.version, Principal(uuid.uuid4(), by, role, None), uow
        )
    return approved


async def _criteria_row(repo: Repository, version: int) -> Any:
    row = await repo.criteria_row(version, lock=True)
    if row is None:
        raise NotFound.of("no such criteria version", "version", f"{version} does not exist")
    return row
