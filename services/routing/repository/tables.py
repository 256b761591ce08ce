"""Routing's tables as Core handles, and what every query class shares: the transaction's session
and its advisory locks."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.models import Assignment, Base, CapacityChange, Decision, Queued
from services.routing.models import Criteria as CriteriaRow
from services.routing.models import Rep as RepRow
from services.routing.models import Rule as RuleRow
from services.routing.models import Team as TeamRow


def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


teams_t, reps_t, rules_t = table_of(TeamRow), table_of(RepRow), table_of(RuleRow)
criteria_t, assignments_t = table_of(CriteriaRow), table_of(Assignment)
queue_t, decisions_t, changes_t = table_of(Queued), table_of(Decision), table_of(CapacityChange)

OPEN = ("assigned", "accepted")  # statuses that count in a rep's open load
# execution options of a statement that held rows (`held`) cannot affect: they stay held
PASSES = "passes_held"
PASSES_HELD = {PASSES: True}


class Queries:
    """What every query class shares: the transaction's session and its advisory locks."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        return list((await self.session.execute(statement, params)).all())

    async def try_lock(self, name: str) -> bool:
        """A transaction-long advisory lock, or False at once if another holds it."""
        query = text("SELECT pg_try_advisory_xact_lock(hashtext(:name))")
        result = await self.session.execute(query, {"name": name}, execution_options=PASSES_HELD)
        return bool(result.scalar())
