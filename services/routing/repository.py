"""All of routing's SQL. Rows come back as domain objects; the one write that guards capacity,
`claim`, is a conditional UPDATE, so no two transactions can both take a rep's last slot."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Row, Table, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.domain.criteria import Criteria, Rules, Status
from services.routing.domain.hours import Period, WorkingHours, parse_hours
from services.routing.domain.org import Rep, Rule, Strategy, Team
from services.routing.models import (
    Assignment,
    Base,
    CapacityChange,
    Decision,
    Queued,
)
from services.routing.models import Criteria as CriteriaRow
from services.routing.models import Rep as RepRow
from services.routing.models import Rule as RuleRow
from services.routing.models import Team as TeamRow


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


teams_t, reps_t, rules_t = _table(TeamRow), _table(RepRow), _table(RuleRow)
criteria_t, assignments_t = _table(CriteriaRow), _table(Assignment)
queue_t, decisions_t, changes_t = _table(Queued), _table(Decision), _table(CapacityChange)

OPEN = ("assigned", "accepted")  # statuses that count in a rep's open load


@lru_cache(maxsize=4096)
def _hours(timezone: str, text_: str) -> WorkingHours:
    return parse_hours(timezone, text_)


def to_team(row: Row[Any]) -> Team:
    return Team(
        id=row.id,
        name=row.name,
        strategy=Strategy(row.strategy),
        sla_minutes=row.sla_minutes,
        escalation_contact=row.escalation_contact,
        fallback=row.fallback,
    )


def to_rep(row: Row[Any]) -> Rep:
    return Rep(
        id=row.id,
        email=row.email,
        name=row.name,
        team_id=row.team_id,
        capacity=row.capacity,
        hours=_hours(row.timezone, row.working_hours),
        weight=row.weight,
        daily_cap=row.daily_cap,
        territories=frozenset(row.territories),
        languages=frozenset(row.languages),
        company_sizes=frozenset(row.company_sizes),
        industries=frozenset(row.industries),
        out_of_office=tuple(
            Period(datetime.fromisoformat(a), datetime.fromisoformat(b))
            for a, b in row.out_of_office
        ),
        active=row.active,
        open_load=row.open_load,
        assigned_today=row.assigned_today,
        assigned_day=row.assigned_day.isoformat() if row.assigned_day else None,
        rr_pass=row.rr_pass,
    )


_SETTINGS: dict[str, tuple[datetime, Rep]] = {}  # rep id -> (updated_at, settings), see team_reps


def _with_load(settings: Rep, row: Row[Any]) -> Rep:
    """The cached settings with this moment's load. Built without `dataclasses.replace`, which
    re-runs validation the cached copy already passed (a tenth of a decision for 1,000 reps)."""
    rep: Rep = object.__new__(Rep)
    rep.__dict__.update(
        settings.__dict__,
        open_load=row.open_load,
        assigned_day=row.assigned_day.isoformat() if row.assigned_day else None,
        assigned_today=row.assigned_today,
        rr_pass=row.rr_pass,
    )
    return rep


def to_rule(row: Row[Any]) -> Rule:
    c = row.conditions
    return Rule(
        name=row.name,
        team_id=row.team_id,
        position=row.position,
        **{key: frozenset(c.get(key, ())) for key in RULE_CONDITIONS},
    )


RULE_CONDITIONS = (
    "countries",
    "languages",
    "company_sizes",
    "industries",
    "product_interests",
    "grades",
)


def to_criteria(row: Row[Any]) -> Criteria:
    r = row.rules
    rules = Rules(
        required_fields=tuple(r.get("required_fields", ())),
        min_grade=r.get("min_grade"),
        min_score=r.get("min_score"),
        consent_required=r.get("consent_required", True),
        excluded_countries=frozenset(r.get("excluded_countries", ())),
        excluded_industries=frozenset(r.get("excluded_industries", ())),
        excluded_company_sizes=frozenset(r.get("excluded_company_sizes", ())),
    )
    return Criteria(row.version, rules, Status(row.status), frozenset(row.approvals))


def rules_document(rules: Rules) -> dict[str, Any]:
    return {
        "required_fields": list(rules.required_fields),
        "min_grade": rules.min_grade,
        "min_score": rules.min_score,
        "consent_required": rules.consent_required,
        "excluded_countries": sorted(rules.excluded_countries),
        "excluded_industries": sorted(rules.excluded_industries),
        "excluded_company_sizes": sorted(rules.excluded_company_sizes),
    }


@dataclass(frozen=True)
class QueueStats:
    length: int
    oldest: datetime | None

    def oldest_age_s(self, now: datetime) -> float | None:
        return None if self.oldest is None else max(0.0, (now - self.oldest).total_seconds())


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        return list((await self.session.execute(statement, params)).all())

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
        )
        query = select(*live).where(reps_t.c.team_id == team_id).order_by(reps_t.c.id)
        rows = await self._rows(query)
        stale = [r.id for r in rows if _SETTINGS.get(r.id, (None,))[0] != r.updated_at]
        if stale:
            for full in await self._rows(select(reps_t).where(reps_t.c.id.in_(stale))):
                _SETTINGS[full.id] = (full.updated_at, to_rep(full))
        return [_with_load(_SETTINGS[r.id][1], r) for r in rows if r.id in _SETTINGS]

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

    # ---- capacity ----------------------------------------------------------------------------

    async def claim(self, rep: Rep, today: date, clock: float | None) -> bool:
        """Take one slot of `rep` if they still have one; False when another decision won it.

        The WHERE clause re-checks capacity and daily cap on the row as it is now (PostgreSQL
        re-evaluates it after waiting for a concurrent update), so the load never passes the cap.
        """
        statement = text(
            "UPDATE routing.reps SET open_load = open_load + 1,"
            " assigned_today = CASE WHEN assigned_day = :today THEN assigned_today + 1 ELSE 1 END,"
            " assigned_day = :today,"
            # weighted round robin: one turn, counted from where the row is now
            " rr_pass = CASE WHEN CAST(:clock AS float8) IS NULL THEN rr_pass"
            " ELSE GREATEST(rr_pass, CAST(:clock AS float8)) + 1.0 / weight END"
            " WHERE id = :id AND active AND open_load < capacity"
            " AND (daily_cap IS NULL OR assigned_day IS DISTINCT FROM :today"
            " OR assigned_today < daily_cap)"
            " RETURNING id"
        )
        params = {"id": rep.id, "today": today, "clock": clock}
        result = await self.session.execute(statement, params)
        return result.scalar() is not None

    async def release(self, rep_id: str) -> str | None:
        """One slot back; the rep's team, or None if the rep is gone."""
        statement = (
            update(reps_t)
            .where(reps_t.c.id == rep_id)
            .values(open_load=func.greatest(reps_t.c.open_load - 1, 0))
            .returning(reps_t.c.team_id)
        )
        team_id: str | None = (await self.session.execute(statement)).scalar()
        return team_id

    async def capacity_changed(self, team_id: str | None) -> None:
        if team_id is not None:
            await self.session.execute(insert(changes_t).values(team_id=team_id))

    async def take_capacity_changes(self) -> set[str]:
        """Teams changed since the last publication; each change is taken by one instance."""
        statement = delete(changes_t).returning(changes_t.c.team_id)
        return {row.team_id for row in await self._rows(statement)}

    async def try_lock(self, name: str) -> bool:
        """A transaction-long advisory lock, or False at once if another holds it."""
        query = text("SELECT pg_try_advisory_xact_lock(hashtext(:name))")
        return bool((await self.session.execute(query, {"name": name})).scalar())

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

    # ---- assignments -------------------------------------------------------------------------

    async def open_assignment(self, lead_id: uuid.UUID) -> Row[Any] | None:
        query = select(assignments_t).where(
            assignments_t.c.lead_id == lead_id, assignments_t.c.status.in_(OPEN)
        )
        rows = await self._rows(query)
        return rows[0] if rows else None

    async def add_assignment(self, **values: Any) -> None:
        await self.session.execute(insert(assignments_t).values(status="assigned", **values))

    async def set_assignment(
        self, lead_id: uuid.UUID, *, status: str, verdict: str
    ) -> Row[Any] | None:
        """Move the lead's open assignment on; the row before the change, or None."""
        closing = status == "closed"
        statement = (
            update(assignments_t)
            .where(assignments_t.c.lead_id == lead_id, assignments_t.c.status.in_(OPEN))
            .values(status=status, verdict=verdict, closed_at=func.now() if closing else None)
            .returning(assignments_t.c.rep_id, assignments_t.c.team_id)
        )
        rows = await self._rows(statement)
        return rows[0] if rows else None

    async def assignments(
        self,
        *,
        rep_id: str | None,
        team_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> list[Row[Any]]:
        query = select(assignments_t)
        if rep_id is not None:
            query = query.where(assignments_t.c.rep_id == rep_id)
        if team_id is not None:
            query = query.where(assignments_t.c.team_id == team_id)
        if status is not None:
            query = query.where(assignments_t.c.status == status)
        query = query.order_by(assignments_t.c.id.desc()).limit(limit).offset(offset)
        return await self._rows(query)

    async def lead_assignments(self, lead_id: uuid.UUID) -> list[Row[Any]]:
        query = (
            select(assignments_t)
            .where(assignments_t.c.lead_id == lead_id)
            .order_by(assignments_t.c.id)
        )
        return await self._rows(query)

    # ---- the queue ---------------------------------------------------------------------------

    async def enqueue(self, **values: Any) -> None:
        statement = pg_insert(queue_t).values(**values)
        refreshed = {k: statement.excluded[k] for k in values if k not in ("lead_id",)}
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["lead_id"], set_=refreshed)
        )

    async def queue_position(self, lead_id: uuid.UUID) -> int | None:
        query = text(
            "SELECT count(*) + 1 FROM routing.queue q, routing.queue me"
            " WHERE me.lead_id = :lead AND q.team_id IS NOT DISTINCT FROM me.team_id"
            " AND (q.score > me.score OR (q.score = me.score AND"
            " (q.queued_at, q.lead_id) < (me.queued_at, me.lead_id)))"
        )
        if not await self.queued(lead_id):
            return None
        return int((await self.session.execute(query, {"lead": lead_id})).scalar_one())

    async def queued(self, lead_id: uuid.UUID) -> Row[Any] | None:
        rows = await self._rows(select(queue_t).where(queue_t.c.lead_id == lead_id))
        return rows[0] if rows else None

    async def dequeue(self, lead_id: uuid.UUID) -> None:
        await self.session.execute(delete(queue_t).where(queue_t.c.lead_id == lead_id))

    async def next_in_queue(self, team_id: str, limit: int) -> list[Row[Any]]:
        """The team's queue head, fair order; rows another drain holds are skipped."""
        query = (
            select(queue_t)
            .where(queue_t.c.team_id == team_id)
            .order_by(queue_t.c.score.desc(), queue_t.c.queued_at, queue_t.c.lead_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._rows(query)

    async def queue(self, team_id: str | None, limit: int, offset: int) -> list[Row[Any]]:
        query = select(queue_t)
        if team_id is not None:
            query = query.where(queue_t.c.team_id == team_id)
        query = query.order_by(
            queue_t.c.team_id, queue_t.c.score.desc(), queue_t.c.queued_at, queue_t.c.lead_id
        )
        return await self._rows(query.limit(limit).offset(offset))

    async def queue_stats(self) -> dict[str | None, QueueStats]:
        query = select(queue_t.c.team_id, func.count(), func.min(queue_t.c.queued_at)).group_by(
            queue_t.c.team_id
        )
        return {team: QueueStats(n, oldest) for team, n, oldest in await self._rows(query)}

    # ---- decisions ---------------------------------------------------------------------------

    async def record_decision(
        self,
        lead_id: uuid.UUID,
        outcome: str,
        criteria_version: int | None,
        explanation: dict[str, Any],
    ) -> None:
        values = dict(
            lead_id=lead_id,
            outcome=outcome,
            criteria_version=criteria_version,
            explanation=explanation,
            decided_at=datetime.now(UTC),
        )
        statement = pg_insert(decisions_t).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["lead_id"],
                set_={k: statement.excluded[k] for k in values if k != "lead_id"},
            )
        )

    async def decision(self, lead_id: uuid.UUID) -> Row[Any] | None:
        rows = await self._rows(select(decisions_t).where(decisions_t.c.lead_id == lead_id))
        return rows[0] if rows else None

    async def forget_lead(self, lead_id: uuid.UUID) -> None:
        """Erasure: no profile or decision kept; assignments stay as counts, without domain."""
        await self.session.execute(delete(queue_t).where(queue_t.c.lead_id == lead_id))
        await self.session.execute(delete(decisions_t).where(decisions_t.c.lead_id == lead_id))
        await self.session.execute(
            update(assignments_t)
            .where(assignments_t.c.lead_id == lead_id)
            .values(company_domain=None)
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
