"""SLA deadlines end to end: no verdict by the deadline reassigns the lead (attempt + 1), the
breach is recorded, the maximum attempts escalate it; two instances and a restart never
reassign a lead twice. And deadline arithmetic in working hours across zones, weekends, DST."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from services.routing.app import create_app
from services.routing.domain.deadlines import follow_up_due
from services.routing.domain.hours_text import parse_hours
from services.routing.handlers.mqls import route_mql
from services.routing.models import platform
from services.routing.sla import enforce_deadlines, refresh_records
from shared.auth import Role
from shared.events import LeadAssignedEvent
from shared.outbox import Outbox
from shared.uow import UnitOfWork
from tests.helpers import auth, reading, running, wait_for
from tests.routing.conftest import Routing, mql, rep, team


def test_friday_evening_is_due_monday_morning_in_the_reps_zone() -> None:
    hours = parse_hours("America/New_York", "mon-fri 09:00-17:00")
    friday_4pm = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)  # 16:00 EST
    # one hour left on Friday after 16:00 is 1h; 60 minutes of SLA end Friday 17:00...
    assert follow_up_due(hours, friday_4pm, 60) == datetime(2026, 3, 6, 22, 0, tzinfo=UTC)
    # ...90 minutes run over the weekend into Monday 09:30, and Monday 9 March is after the
    # DST change (8 March): EDT, UTC-4, so 13:30 UTC, not 14:30
    assert follow_up_due(hours, friday_4pm, 90) == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)


def test_a_deadline_in_tokyo_skips_the_night_and_seconds_count() -> None:
    hours = parse_hours("Asia/Tokyo", "mon-fri 09:00-18:00")
    evening = datetime(2026, 11, 26, 8, 59, tzinfo=UTC)  # Thu 17:59 JST
    assert follow_up_due(hours, evening, 2) == datetime(2026, 11, 27, 0, 1, tzinfo=UTC)
    assert follow_up_due(hours, evening, 0.5) == datetime(2026, 11, 26, 8, 59, 30, tzinfo=UTC)


def _payloads(records: list[Any], lead_id: str) -> list[dict[str, Any]]:
    events = [json.loads(r.value) for r in records]
    return [e["payload"] for e in events if e["lead_id"] == lead_id]


@pytest.mark.asyncio
async def test_no_verdict_reassigns_then_escalates_once_across_instances_and_a_restart(
    routing: Routing, api_keys: dict[Any, str]
) -> None:
    await routing.load(
        teams=[team(fallback=True, sla_seconds=2, max_attempts=2, escalation_contact="boss@x.io")],
        reps=[rep("ann"), rep("bob")],
    )
    lead = mql()
    lead_id = str(lead.lead_id)
    topic = routing.topic(LeadAssignedEvent)
    async with reading(routing.settings.kafka_bootstrap, topic) as assigned:
        first, second = create_app(routing.settings), create_app(routing.settings)
        async with running(first) as client, running(second):
            await routing.send(lead)
            got = await assigned.wait_for_count(1)
            [one] = _payloads(got, lead_id)
            assert one["attempt"] == 1

            async def reassigned() -> list[dict[str, Any]]:
                found = _payloads(await assigned.poll(), lead_id)
                return found if len(found) >= 2 else []

            two = (await wait_for(reassigned, message="reassignment"))[1]
            assert two["attempt"] == 2
            assert two["previous_rep_id"] == one["rep_id"]
            assert two["rep_id"] != one["rep_id"]
            breaches = await routing.rows(
                "SELECT rep_id, attempt, late_by_s FROM routing.sla_breaches WHERE lead_id = :l",
                l=lead.lead_id,
            )
            assert [(b.rep_id, b.attempt) for b in breaches] == [(one["rep_id"], 1)]
            assert breaches[0].late_by_s >= 0
            report = (await client.get("/v1/sla", headers=auth(api_keys[Role.marketing]))).json()
            row = next(r for r in report if r["rep_id"] == one["rep_id"])
            assert (row["breaches"], row["on_time_rate"]) == (1, 0.0)
        # both instances stopped while the second deadline runs; a new one finds it overdue
        # (its jobs run from the start; its consumer may wait on the group, so no readiness)
        async with running(create_app(routing.settings), wait_ready=False):

            async def escalated() -> list[Any]:
                return await routing.rows(
                    "SELECT * FROM routing.escalations WHERE lead_id = :l", l=lead.lead_id
                )

            [esc] = await wait_for(escalated, message="escalation")
            assert (esc.attempts, esc.last_rep_id) == (2, two["rep_id"])
    rows = await routing.rows(
        "SELECT rep_id, attempt, status, verdict FROM routing.assignments WHERE lead_id = :l"
        " ORDER BY id",
        l=lead.lead_id,
    )
    assert [(r.attempt, r.status, r.verdict) for r in rows] == [
        (1, "closed", "sla_breached"),
        (2, "closed", "sla_breached"),
    ]
    assert len(_payloads(assigned.records, lead_id)) == 2  # never reassigned twice
    loads = await routing.rows("SELECT id, open_load FROM routing.reps ORDER BY id")
    assert [(r.id, r.open_load) for r in loads] == [("ann", 0), ("bob", 0)]
    [(n,)] = await routing.rows(
        "SELECT count(*) FROM routing.sla_breaches WHERE lead_id = :l", l=lead.lead_id
    )
    assert n == 2


@pytest.mark.asyncio
async def test_concurrent_deadline_runs_handle_each_breach_once(routing: Routing) -> None:
    """Four runs of the deadline job at the same moment over twelve overdue assignments: each
    is breached and reassigned exactly once (the row lock keeps the runs apart)."""
    await routing.load(
        teams=[team(fallback=True, max_attempts=3)],
        reps=[rep(f"r{i}", capacity=12) for i in range(3)],
    )
    outbox = Outbox(platform, routing.settings, "routing")
    leads = [mql() for _ in range(12)]
    for lead in leads:
        async with routing.sessions() as session, session.begin():
            await route_mql(lead, UnitOfWork(session, outbox, routing.settings))
    async with routing.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE routing.assignments SET follow_up_due = now() - interval '1 second'")
        )

    async def run() -> None:
        async with routing.sessions() as session, session.begin():
            await enforce_deadlines(UnitOfWork(session, outbox, routing.settings))

    await asyncio.gather(*(run() for _ in range(4)))
    [(breaches, leads_breached)] = await routing.rows(
        "SELECT count(*), count(DISTINCT lead_id) FROM routing.sla_breaches"
    )
    assert (breaches, leads_breached) == (12, 12)
    attempts = await routing.rows(
        "SELECT attempt, status, count(*) AS n FROM routing.assignments"
        " GROUP BY attempt, status ORDER BY attempt"
    )
    assert [(a.attempt, a.status, a.n) for a in attempts] == [
        (1, "closed", 12),
        (2, "assigned", 12),
    ]
    [(load,)] = await routing.rows("SELECT sum(open_load) FROM routing.reps")
    assert load == 12


@pytest.mark.asyncio
async def test_breaches_lower_a_reps_share_until_they_recover(
    routing: Routing, api_keys: dict[str, str]
) -> None:
    await routing.load(
        teams=[
            team(
                fallback=True,
                strategy="weighted_round_robin",
                breach_limit=2,
                breach_window_days=7,
                breach_share=0.5,
            )
        ],
        reps=[rep("ann", capacity=100), rep("bob", capacity=100)],
    )
    outbox = Outbox(platform, routing.settings, "routing")

    async def in_transaction(sql: str = "", **params: Any) -> None:
        async with routing.sessions() as session, session.begin():
            if sql:
                await session.execute(text(sql), params)
            # The app's own job may hold the lock (it skips a run then); wait for it instead.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('routing.rep-records'))")
            )
            await refresh_records(UnitOfWork(session, outbox, routing.settings))

    breach = (
        "INSERT INTO routing.sla_breaches (lead_id, rep_id, team_id, attempt, due, late_by_s)"
        " VALUES (gen_random_uuid(), 'ann', 'emea', 1, now(), 1)"
    )
    await in_transaction(breach)
    async with running(create_app(routing.settings), wait_ready=False) as client:
        reader = auth(api_keys["marketing"])
        one = (await client.get("/v1/reps/ann", headers=reader)).json()
        assert (one["share"], one["breaches_in_window"], one["breach_limit"]) == (1.0, 1, 2)
        await in_transaction(breach)  # the second breach in 7 days: the rule applies
        two = (await client.get("/v1/reps/ann", headers=reader)).json()
        assert (two["share"], two["breaches_in_window"]) == (0.5, 2)
        assert (await client.get("/v1/reps/nobody", headers=reader)).status_code == 404

        leads = [mql() for _ in range(30)]
        for lead in leads:
            async with routing.sessions() as session, session.begin():
                await route_mql(lead, UnitOfWork(session, outbox, routing.settings))
        counts = dict(
            (r.rep_id, r.n)
            for r in await routing.rows(
                "SELECT rep_id, count(*) AS n FROM routing.assignments GROUP BY rep_id"
            )
        )
        assert counts == {"ann": 10, "bob": 20}  # weight 1 x 0.5 against weight 1
        explained = await client.get(f"/v1/leads/{leads[0].lead_id}/routing", headers=reader)
        assert explained.json()["explanation"]["lowered_shares"] == {"ann": 0.5}

        await in_transaction(
            "UPDATE routing.sla_breaches SET breached_at = now() - interval '8 days'"
        )
        back = (await client.get("/v1/reps/ann", headers=reader)).json()
        assert (back["share"], back["breaches_in_window"]) == (1.0, 0)
