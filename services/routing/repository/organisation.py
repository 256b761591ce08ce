"""SQL about the organisation as a decision reads it: teams, reps with their live load, rules,
and the owner of an account."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, func, literal, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on

from services.routing.domain.criteria import Criteria
from services.routing.domain.org import Rep, Team
from services.routing.domain.rules import Rule
from services.routing.repository.rows import (
    SETTINGS_CACHE,
    rule_of,
    to_criteria,
    to_rep,
    to_rule,
    to_team,
    with_load,
)
from services.routing.repository.tables import (
    OPEN,
    Queries,
    assignments_t,
    criteria_t,
    reps_t,
    rules_t,
    teams_t,
)


def _in_force() -> Select[Any]:
    """Built once: a statement this size costs more to build than to run."""
    rule = func.jsonb_build_object(*(x for c in rules_t.columns for x in (literal(c.name), c)))
    rules = select(
        func.coalesce(
            func.jsonb_agg(aggregate_order_by(rule, rules_t.c.position)),
            func.jsonb_build_array(),
        )
    ).scalar_subquery()
    fallback = select(teams_t.c.id).where(teams_t.c.fallback).limit(1).scalar_subquery()
    active = select(criteria_t).where(criteria_t.c.status == "active").subquery()
    one = select(literal(1).label("one")).subquery()
    query = select(active, rules.label("rule_rows"), fallback.label("fallback_team_id"))
    return query.select_from(one.outerjoin(active, true()))


IN_FORCE = _in_force()


class OrganisationQueries(Queries):
    async def teams(self) -> list[Team]:
        return [to_team(r) for r in await self._rows(select(teams_t).order_by(teams_t.c.id))]

    async def team(self, team_id: str) -> Team | None:
        rows = await self._rows(select(teams_t).where(teams_t.c.id == team_id))
        return to_team(rows[0]) if rows else None

    async def in_force(self) -> tuple[Criteria | None, list[Rule], str | None]:
        """The active criteria, the rules in order and the fallback team, in one statement
        (what every batch of MQLs reads first)."""
        [row] = await self._rows(IN_FORCE)
        criteria = to_criteria(row) if row.version is not None else None
        return criteria, [rule_of(fields) for fields in row.rule_rows], row.fallback_team_id

    async def fallback_team_id(self) -> str | None:
        query = select(teams_t.c.id).where(teams_t.c.fallback)
        return (await self.session.execute(query)).scalar()

    async def rules(self) -> list[Rule]:
        query = select(rules_t).order_by(rules_t.c.position)
        return [to_rule(r) for r in await self._rows(query)]

    async def team_reps(self, team_id: str) -> list[Rep]:
        """The team's reps with their live load. Settings change rarely and loads on every
        assignment, so only the live columns are read each time; a rep's settings are read again
        when their `updated_at` moves (every settings write sets it)."""
        live = (
            reps_t.c.id,
            reps_t.c.updated_at,
            reps_t.c.open_load,
            reps_t.c.assigned_day,
            reps_t.c.assigned_today,
            reps_t.c.rr_pass,
            reps_t.c.share,
        )
        query = select(*live).where(reps_t.c.team_id == team_id).order_by(reps_t.c.id)
        rows = await self._rows(query)
        stale = [r.id for r in rows if SETTINGS_CACHE.get(r.id, (None,))[0] != r.updated_at]
        if stale:
            for full in await self._rows(select(reps_t).where(reps_t.c.id.in_(stale))):
                SETTINGS_CACHE[full.id] = (full.updated_at, to_rep(full))
        return [with_load(SETTINGS_CACHE[r.id][1], r) for r in rows if r.id in SETTINGS_CACHE]

    async def reps(self, team_id: str | None = None) -> list[Rep]:
        query = select(reps_t).order_by(reps_t.c.id)
        if team_id is not None:
            query = query.where(reps_t.c.team_id == team_id)
        return [to_rep(r) for r in await self._rows(query)]

    async def rep(self, rep_id: str) -> Rep | None:
        rows = await self._rows(select(reps_t).where(reps_t.c.id == rep_id))
        return to_rep(rows[0]) if rows else None

    async def account_owners(self, domains: Collection[str]) -> dict[str, str]:
        """`account_owner` of each domain that has one, in one query."""
        query = (
            select(assignments_t.c.company_domain, assignments_t.c.rep_id)
            .where(
                assignments_t.c.company_domain.in_(domains),
                assignments_t.c.status.in_(OPEN),
            )
            .order_by(assignments_t.c.company_domain, assignments_t.c.assigned_at.desc())
            .ext(distinct_on(assignments_t.c.company_domain))
        )
        return {row.company_domain: row.rep_id for row in await self._rows(query)}

    async def account_owner(self, company_domain: str) -> str | None:
        """The rep holding the domain's most recent open lead, if any."""
        query = (
            select(assignments_t.c.rep_id)
            .where(
                assignments_t.c.company_domain == company_domain,
                assignments_t.c.status.in_(OPEN),
            )
            .order_by(assignments_t.c.assigned_at.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar()
