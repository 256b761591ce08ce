"""SQL about the organisation and the criteria: teams, reps' settings, rules, versions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.domain.criteria import Criteria, Rules, Status
from services.routing.domain.org import Rep, Rule, Team
from services.routing.repository.rows import (
    OPEN,
    SETTINGS_CACHE,
    Queries,
    assignments_t,
    criteria_t,
    reps_t,
    rules_document,
    rules_t,
    teams_t,
    to_criteria,
    to_rep,
    to_rule,
    to_team,
    with_load,
)


class OrganisationQueries(Queries):
    # ---- the organisation --------------------------------------------------------------------

    async def teams(self) -> list[Team]:
        return [to_team(r) for r in await self._rows(select(teams_t).order_by(teams_t.c.id))]

    async def team(self, team_id: str) -> Team | None:
        rows = await self._rows(select(teams_t).where(teams_t.c.id == team_id))
        return to_team(rows[0]) if rows else None

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

    # ---- criteria ----------------------------------------------------------------------------

    async def active_criteria(self) -> Criteria | None:
        rows = await self._rows(select(criteria_t).where(criteria_t.c.status == "active"))
        return to_criteria(rows[0]) if rows else None

    async def criteria_versions(self) -> list[Row[Any]]:
        return await self._rows(select(criteria_t).order_by(criteria_t.c.version.desc()))

    async def criteria_row(self, version: int, *, lock: bool = False) -> Row[Any] | None:
        query = select(criteria_t).where(criteria_t.c.version == version)
        rows = await self._rows(query.with_for_update() if lock else query)
        return rows[0] if rows else None

    async def add_criteria(self, rules: Rules) -> int:
        await self.session.execute(text("LOCK TABLE routing.criteria IN EXCLUSIVE MODE"))
        version = (
            await self.session.execute(select(func.coalesce(func.max(criteria_t.c.version), 0)))
        ).scalar_one() + 1
        await self.session.execute(
            insert(criteria_t).values(
                version=version, rules=rules_document(rules), status="draft", approvals={}
            )
        )
        return int(version)

    async def save_criteria(self, criteria: Criteria, approvals: dict[str, str]) -> None:
        if criteria.status is Status.active:
            await self.session.execute(
                update(criteria_t).where(criteria_t.c.status == "active").values(status="retired")
            )
        await self.session.execute(
            update(criteria_t)
            .where(criteria_t.c.version == criteria.version)
            .values(
                rules=rules_document(criteria.rules),
                status=str(criteria.status),
                approvals=approvals,
                activated_at=func.now() if criteria.status is Status.active else None,
            )
        )

    # ---- administration ----------------------------------------------------------------------

    async def upsert(self, table: Any, rows: Sequence[dict[str, Any]], key: str) -> None:
        """Insert or update settings rows, one statement for all; live columns (load, turn) are
        left as they are, `updated_at` moves."""
        if not rows:
            return
        statement = pg_insert(table)
        changed: dict[str, Any] = {k: statement.excluded[k] for k in rows[0] if k != key}
        changed["updated_at"] = func.now()
        upsert = statement.on_conflict_do_update(index_elements=[key], set_=changed)
        await self.session.execute(upsert, list(rows))

    async def replace_rules(self, rows: Iterable[dict[str, Any]]) -> None:
        await self.session.execute(delete(rules_t))
        rows = list(rows)
        if rows:
            await self.session.execute(insert(rules_t), rows)

    async def clear_fallback(self) -> None:
        await self.session.execute(update(teams_t).where(teams_t.c.fallback).values(fallback=False))

    async def team_ids(self) -> set[str]:
        return {r.id for r in await self._rows(select(teams_t.c.id))}

    async def rep_rows(self, team_id: str | None = None) -> list[Row[Any]]:
        query = select(reps_t).order_by(reps_t.c.id)
        if team_id is not None:
            query = query.where(reps_t.c.team_id == team_id)
        return await self._rows(query)

    async def rule_rows(self) -> list[Row[Any]]:
        return await self._rows(select(rules_t).order_by(rules_t.c.position))

    async def team_rows(self) -> list[Row[Any]]:
        return await self._rows(select(teams_t).order_by(teams_t.c.id))
