"""A batch of MQLs handled in one transaction decides exactly what the same MQLs handled one at a
time decide: who gets which lead, who waits, and what is announced."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

from services.routing.criteria import install_agreed_criteria
from services.routing.models import platform
from services.routing.repository import Repository
from services.routing.schemas.criteria import CriteriaIn
from shared.events import LeadMqlEvent
from shared.outbox import Outbox
from shared.uow import UnitOfWork
from tests.routing.conftest import Routing, mql, rep, team

pytestmark = pytest.mark.asyncio

ORG: dict[str, Any] = {
    "teams": [team("emea", strategy="weighted_round_robin"), team("world", fallback=True)],
    "reps": [rep("ann", capacity=2), rep("bob", capacity=1), rep("wes", "world", capacity=1)],
    "rules": [{"name": "uk", "team": "emea", "countries": ["GB", "IE"]}],
}

RESET_REPS = (
    "UPDATE routing.reps SET open_load = 0, assigned_today = 0, assigned_day = NULL, rr_pass = 0"
)


def burst() -> list[LeadMqlEvent]:
    """More SQLs than slots in both teams, one lead twice, one failing the criteria."""
    uk = [mql(country="GB", score=90 - i) for i in range(5)]
    world = [mql(country="BR", score=70), mql(country="BR", score=75)]
    again = mql(uk[0].lead_id, country="GB", score=99)
    no_consent = mql(country="GB", consent_given=False)
    return [*uk[:2], world[0], again, no_consent, *uk[2:], world[1]]


async def decided(routing: Routing) -> tuple[list[Any], list[Any], list[Any]]:
    assignments = await routing.rows(
        "SELECT lead_id, rep_id, rule, strategy FROM routing.assignments ORDER BY lead_id"
    )
    queue = await routing.rows("SELECT lead_id, team_id FROM routing.queue ORDER BY lead_id")
    events = await routing.rows(
        "SELECT topic, key FROM routing.outbox WHERE topic NOT LIKE '%capacity%' ORDER BY id"
    )
    return assignments, queue, events


async def agree_on_consent(routing: Routing) -> None:
    async with routing.sessions() as session, session.begin():
        uow = UnitOfWork(session, Outbox(platform, routing.settings, "routing"), routing.settings)
        await install_agreed_criteria(CriteriaIn(consent_required=True), uow, by="test")


async def test_a_batch_decides_what_one_at_a_time_decides(routing: Routing) -> None:
    await routing.load(**ORG)
    await agree_on_consent(routing)
    events = burst()
    await routing.route(events, together=False)
    one_at_a_time = await decided(routing)
    async with routing.sessions() as session, session.begin():
        await session.execute(text("TRUNCATE routing.assignments, routing.queue, routing.outbox"))
        await session.execute(text(RESET_REPS))
    await routing.route(events, together=True)
    assert await decided(routing) == one_at_a_time
    assignments, queue, _ = one_at_a_time
    loads: dict[str, int] = {}
    for row in assignments:
        loads[row.rep_id] = loads.get(row.rep_id, 0) + 1
    assert loads == {"ann": 2, "bob": 1, "wes": 1}
    assert len(queue) == 3  # 5 distinct UK SQLs for 3 slots, 2 world SQLs for 1


async def test_a_waiting_lead_served_by_the_batchs_drain_is_not_placed_again(
    routing: Routing,
) -> None:
    """Q waits; a slot frees; the batch's first SQL serves the queue (Q gets the slot) before it
    queues itself, so Q's own MQL later in the batch finds Q assigned and changes nothing."""
    await routing.load(teams=[team("emea", fallback=True)], reps=[rep("ann", capacity=1)])
    await agree_on_consent(routing)
    holder, waiting = mql(country="GB"), mql(country="GB")
    await routing.route([holder, waiting], together=False)
    async with routing.sessions() as session, session.begin():
        await session.execute(text("UPDATE routing.reps SET open_load = 0"))
        await session.execute(
            text("DELETE FROM routing.assignments WHERE lead_id = :id"), {"id": holder.lead_id}
        )
    newcomer = mql(country="GB")
    await routing.route([newcomer, mql(waiting.lead_id, country="GB", score=95)], together=True)
    assignments = await routing.rows("SELECT lead_id, rep_id FROM routing.assignments")
    assert [(row.lead_id, row.rep_id) for row in assignments] == [(waiting.lead_id, "ann")]
    queue = await routing.rows("SELECT lead_id FROM routing.queue")
    assert [row.lead_id for row in queue] == [newcomer.lead_id]
    [load] = await routing.rows("SELECT open_load FROM routing.reps WHERE id = 'ann'")
    assert load.open_load == 1


async def test_a_batch_reads_what_is_in_force_in_one_statement(routing: Routing) -> None:
    """The criteria, the rules in their order and the fallback team, as the separate reads
    (the API's) give them."""
    nordics = {"name": "nordics", "team": "emea", "countries": ["SE", "NO"]}
    await routing.load(**ORG | {"rules": [*ORG["rules"], nordics]})
    await agree_on_consent(routing)
    async with routing.sessions() as session, session.begin():  # nordics first now
        await session.execute(text("UPDATE routing.rules SET position = position + 10"))
        await session.execute(
            text("UPDATE routing.rules SET position = CASE name WHEN 'uk' THEN 2 ELSE 1 END")
        )
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    async with routing.sessions() as session, session.begin():
        repo = Repository(session)
        sa_event.listen(routing.engine.sync_engine, "before_cursor_execute", seen)
        try:
            criteria, rules, fallback = await repo.in_force()
        finally:
            sa_event.remove(routing.engine.sync_engine, "before_cursor_execute", seen)
        assert len(statements) == 1, statements
        assert criteria == await repo.active_criteria()
        assert criteria is not None and criteria.rules.consent_required
        assert rules == await repo.rules()
        assert [rule.name for rule in rules] == ["nordics", "uk"]
        assert fallback == await repo.fallback_team_id() == "world"


async def test_with_nothing_agreed_or_ruled_nothing_is_in_force(routing: Routing) -> None:
    await routing.load(teams=[team("emea")], reps=[rep("ann")])
    async with routing.sessions() as session:
        await session.execute(text("UPDATE routing.criteria SET status = 'retired'"))
        assert await Repository(session).in_force() == (None, [], None)
