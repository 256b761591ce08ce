"""SQL about the SQL criteria: the versions, the one in force, drafts and their approvals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, insert, select, text, update

from services.routing.domain.criteria import Criteria, Rules, Status
from services.routing.repository.rows import rules_document, to_criteria
from services.routing.repository.tables import Queries, criteria_t


class CriteriaQueries(Queries):
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
