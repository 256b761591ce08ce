"""Assignments and decisions held until the transaction's next statement or commit
(`services.routing.repository.held`): every read in the transaction sees them, a rollback
drops them, and a batch of MQLs keeps an account's leads with one rep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.routing.repository import Repository
from tests.routing.conftest import Routing, mql, rep, team

pytestmark = pytest.mark.asyncio


def assignment(lead_id: uuid.UUID) -> dict[str, Any]:
    return dict(
        lead_id=lead_id,
        rep_id="ann",
        team_id="emea",
        rule="fallback",
        strategy="least_loaded",
        attempt=1,
        company_domain=None,
        follow_up_due=datetime.now(UTC),
        assigned_at=datetime.now(UTC),
        previous_rep_id=None,
        lead=None,
        correlation_id=None,
        cause_event_id=None,
    )


async def test_a_read_in_the_transaction_sees_what_it_holds(routing: Routing) -> None:
    lead_id = uuid.uuid4()
    async with routing.sessions() as session, session.begin():
        repo = Repository(session)
        await repo.add_assignment(**assignment(lead_id))
        await repo.record_decision(lead_id, "queued", 1, {"why": "first"})
        await repo.record_decision(lead_id, "assigned", 1, {"why": "later"})
        found = await repo.open_assignment(lead_id)
        assert found is not None and found.rep_id == "ann"
        decision = await repo.decision(lead_id)
        assert decision is not None
        assert (decision.outcome, decision.explanation) == ("assigned", {"why": "later"})
    [(n,)] = await routing.rows(
        "SELECT count(*) FROM routing.decisions WHERE lead_id = :l", l=lead_id
    )
    assert n == 1


async def test_what_a_transaction_holds_is_written_at_its_commit(routing: Routing) -> None:
    lead_id = uuid.uuid4()
    async with routing.sessions() as session, session.begin():
        repo = Repository(session)
        await repo.add_assignment(**assignment(lead_id))
        await repo.record_decision(lead_id, "assigned", None, {})
    assignments = await routing.rows(
        "SELECT rep_id, status FROM routing.assignments WHERE lead_id = :l", l=lead_id
    )
    assert [(a.rep_id, a.status) for a in assignments] == [("ann", "assigned")]
    decisions = await routing.rows(
        "SELECT outcome FROM routing.decisions WHERE lead_id = :l", l=lead_id
    )
    assert [d.outcome for d in decisions] == ["assigned"]


async def test_a_rolled_back_transaction_writes_nothing_it_held(routing: Routing) -> None:
    lead_id = uuid.uuid4()
    async with routing.sessions() as session:
        async with session.begin():
            repo = Repository(session)
            await repo.add_assignment(**assignment(lead_id))
            await repo.record_decision(lead_id, "assigned", None, {})
            await session.rollback()
        async with session.begin():  # the same session's next transaction holds nothing
            await Repository(session).record_decision(uuid.uuid4(), "returned", None, {})
    [(assignments,)] = await routing.rows(
        "SELECT count(*) FROM routing.assignments WHERE lead_id = :l", l=lead_id
    )
    [(decisions,)] = await routing.rows("SELECT count(*) FROM routing.decisions")
    assert (assignments, decisions) == (0, 1)


async def test_an_erasure_after_a_held_decision_leaves_no_decision(routing: Routing) -> None:
    lead_id = uuid.uuid4()
    async with routing.sessions() as session, session.begin():
        repo = Repository(session)
        await repo.record_decision(lead_id, "assigned", None, {"company": "kept?"})
        await repo.forget_lead(lead_id)
    assert await routing.rows("SELECT 1 FROM routing.decisions WHERE lead_id = :l", l=lead_id) == []


async def test_a_batch_keeps_an_accounts_leads_with_one_rep(routing: Routing) -> None:
    """Owners are read once for the batch and kept up with its own assignments: a domain's
    later lead in the batch goes to the rep its first one went to even when another rep is
    less loaded, and a domain owned before the batch to its owner."""
    await routing.load(
        teams=[team(fallback=True)], reps=[rep("ann", capacity=9), rep("bob", capacity=9)]
    )
    owned = mql(company_domain="old.example")
    await routing.route([owned], together=False)
    first, second = mql(company_domain="new.example"), mql(company_domain="new.example")
    again = mql(company_domain="old.example")
    others = [mql(company_domain=f"else{i}.example") for i in range(3)]
    batch = [again, first, *others, second]  # balance alone would give them to the other rep
    await routing.route(batch, together=True)
    rows = await routing.rows("SELECT lead_id, rep_id FROM routing.assignments")
    rep_of = {row.lead_id: row.rep_id for row in rows}
    assert rep_of[second.lead_id] == rep_of[first.lead_id]
    assert rep_of[again.lead_id] == rep_of[owned.lead_id]
    decisions = await routing.rows("SELECT lead_id, outcome FROM routing.decisions")
    assert {d.lead_id: d.outcome for d in decisions} == {
        e.lead_id: "assigned" for e in [owned, *batch]
    }
