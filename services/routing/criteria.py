"""The SQL criteria's use cases: a version is drafted, edited while a draft, and becomes the
active one once marketing and sales have both approved it. They raise typed errors and never
commit."""

from __future__ import annotations

import uuid
from typing import Any

from services.routing.domain.criteria import APPROVING_ROLES, CriteriaError, Rules, Status
from services.routing.repository import Repository, to_criteria
from services.routing.schemas.criteria import CriteriaIn, CriteriaOut
from shared.auth import Principal, Role
from shared.problems import Conflict, Forbidden, NotFound
from shared.uow import UnitOfWork


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
