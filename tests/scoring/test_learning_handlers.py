"""Learning on real PostgreSQL: outcomes as labels, erasure leaving no way back to the person,
the capacity history, backtest progress, and the learning API's refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.scoring.app import create_app
from services.scoring.handlers import backtests
from services.scoring.handlers.backtests import RequestBacktest, request_backtest, run_backtests
from services.scoring.handlers.capacity import record_capacity
from services.scoring.handlers.leads import erase, record_activity, record_capture
from services.scoring.handlers.verdicts import apply_feedback, apply_return
from services.scoring.repository import outcomes_of
from shared.events import (
    Attribution,
    LeadErased,
    LeadErasedEvent,
    LeadFeedback,
    LeadFeedbackEvent,
    LeadReturned,
    LeadReturnedEvent,
)
from shared.settings import Settings
from tests.helpers import UowFactory, auth, running
from tests.scoring.conftest import activity, capacity, captured, sql

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("demo_model")]
NOW = datetime.now(UTC)


async def feed(uow: UowFactory, handler, event) -> None:  # type: ignore[no-untyped-def]
    async with uow() as unit:
        await handler(event, unit)


def verdict(lead_id: uuid.UUID | None, at: datetime, **payload: object) -> LeadFeedbackEvent:
    return LeadFeedbackEvent(
        producer="feedback", lead_id=lead_id, occurred_at=at, payload=LeadFeedback(**payload)
    )


async def scored_lead(uow: UowFactory, **contact: str) -> uuid.UUID:
    lead = captured(email=f"{uuid.uuid4().hex[:8]}@ada.example", **contact)
    touch = Attribution(form_id="demo", source="paid", utm_campaign="Spring")
    lead = lead.model_copy(
        update={"payload": lead.payload.model_copy(update={"first_touch": touch})}
    )
    await feed(uow, record_capture, lead)
    assert lead.lead_id is not None
    return lead.lead_id


async def test_every_stage_is_a_label_the_latest_wins_the_first_score_stays(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead_id = await scored_lead(uow)
    await feed(uow, apply_feedback, verdict(lead_id, NOW - timedelta(days=2), verdict="accepted"))
    await feed(uow, record_activity, activity(lead_id, "demo_request"))  # rescored: 50 -> 90
    won = verdict(lead_id, NOW, verdict="won", deal_value=Decimal("1200"), currency="EUR")
    await feed(uow, apply_feedback, won)
    older = verdict(lead_id, NOW - timedelta(days=1), verdict="rejected", reason_code="no_need")
    await feed(uow, apply_feedback, older)  # arrives late: not the latest
    [row] = await sql(
        engine,
        "SELECT lead_id, stage, value, total, grade, fired, source, utm_campaign, model_version"
        " FROM scoring.outcomes",
    )
    assert (row.lead_id, row.stage, row.value) == (lead_id, "won", Decimal("1200.00"))
    assert (row.total, row.grade, row.source, row.utm_campaign) == (50, "A", "paid", "Spring")
    assert "senior_title" in row.fired and "demo_request" not in row.fired
    assert row.model_version == "demo-1"

    returned = await scored_lead(uow)
    await feed(
        uow,
        apply_return,
        LeadReturnedEvent(
            producer="routing",
            lead_id=returned,
            payload=LeadReturned(
                reason="excluded", failed_criterion="excluded_countries", criteria_version="1"
            ),
        ),
    )
    recycled = await scored_lead(uow)
    await feed(
        uow,
        apply_feedback,
        verdict(recycled, NOW, verdict="recycled", reason_code="bad_timing"),
    )
    stages = await sql(engine, "SELECT lead_id, stage, reason FROM scoring.outcomes")
    assert {(r.lead_id, r.stage, r.reason) for r in stages} >= {
        (returned, "returned", "excluded_countries"),
        (recycled, "recycled", "bad_timing"),
    }


async def test_erasure_leaves_the_outcome_counting_with_no_way_back_to_the_person(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead_id = await scored_lead(uow, job_title="Head of Quiet Things", company="Nobody Ltd")
    await feed(uow, record_activity, activity(lead_id, "demo_request"))
    at = datetime(2026, 11, 3, 14, 37, 12, tzinfo=UTC)
    await feed(uow, apply_feedback, verdict(lead_id, at, verdict="accepted"))
    [before] = await sql(engine, "SELECT id, fired FROM scoring.outcomes")
    await feed(
        uow, erase, LeadErasedEvent(producer="capture", lead_id=lead_id, payload=LeadErased())
    )

    # one home: the same row, unlinked in place, not a copy beside it
    [row] = await sql(engine, "SELECT id, lead_id, occurred_at, stage, fired FROM scoring.outcomes")
    assert (row.id, row.fired) == (before.id, before.fired) and "demo_request" in row.fired
    assert row.lead_id is None and row.stage == "accepted"
    assert row.occurred_at == datetime(2026, 11, 3, tzinfo=UTC)  # the day, not the moment
    async with uow() as unit:
        assert len(await outcomes_of(unit.session, "demo-1")) == 1  # it still counts
    tables = await sql(
        engine,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'scoring'"
        " AND table_name NOT IN ('outbox', 'processed_events', 'alembic_version')",
    )
    traces = ("Quiet Things", "Nobody Ltd", "ada.example")
    for (table,) in tables:
        rows = await sql(engine, f'SELECT t::text AS line FROM scoring."{table}" t')
        for (line,) in rows:
            if table == "leads":  # the tombstone: id and `erased`, nothing else of the person
                assert "erased" in line
                continue
            assert str(lead_id) not in line, (table, line)
            assert not any(trace in line for trace in traces), (table, line)
    [tomb] = await sql(engine, "SELECT t::text AS line FROM scoring.leads t")
    assert not any(trace in tomb.line for trace in traces)


async def test_every_capacity_state_is_kept_for_backtests(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    await feed(uow, record_capacity, capacity("a", 3, at=NOW))
    await feed(uow, record_capacity, capacity("a", 5, at=NOW - timedelta(hours=1)))  # older
    rows = await sql(engine, "SELECT team_id, total_capacity FROM scoring.capacity_history")
    assert sorted(r.total_capacity for r in rows) == [3, 5]


async def test_a_backtest_advances_page_by_page_and_keeps_its_result(
    uow: UowFactory, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backtests, "BACKTEST_PAGE", 2)
    await feed(uow, record_capacity, capacity("a", 2, at=NOW - timedelta(hours=1)))
    for _ in range(5):
        await scored_lead(uow)  # each scores 50: in [floor, ceiling), so it waits for a slot
    async with uow() as unit:
        backtest_id = await request_backtest(
            RequestBacktest("demo-1", NOW - timedelta(days=1), NOW + timedelta(days=1), "t"),
            unit,
        )
    seen = []
    for _ in range(5):
        async with uow() as unit:
            assert await run_backtests(unit, budget_s=0.0)
        [row] = await sql(engine, "SELECT status, done, total FROM scoring.backtests")
        seen.append((row.status, row.done, row.total))
        if row.status == "done":
            break
    assert seen == [("running", 2, 5), ("running", 4, 5), ("done", 5, 5)]
    async with uow() as unit:
        assert not await run_backtests(unit)  # nothing left to do
    [(result,)] = await sql(
        engine, "SELECT result FROM scoring.backtests WHERE id = :id", id=backtest_id
    )
    assert result["version"]["leads"] == 5 and result["baseline"]["version"] == "demo-1"
    # the replay, carried across the job's runs, released as many as sales had slots for
    assert [(w["mqls"], w["mqls_at_base"]) for w in result["version"]["weeks"]] == [(2, 0)]


async def test_the_learning_api_refuses_clearly(
    settings: Settings, api_keys: dict[str, str], uow: UowFactory
) -> None:
    marketing = auth(api_keys["marketing"])
    await scored_lead(uow)
    async with running(create_app(settings)) as client:
        empty = await client.post(
            "/v1/models/demo-1/backtest",
            json={"from": NOW.isoformat(), "to": NOW.isoformat()},
            headers=marketing,
        )
        assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "to"
        naive = await client.post(
            "/v1/models/demo-1/backtest",
            json={"from": "2026-11-01T00:00:00", "to": "2026-11-02T00:00:00"},
            headers=marketing,
        )
        assert naive.status_code == 422, naive.text
        unknown = await client.post(
            "/v1/models/nope/backtest",
            json={"from": NOW.isoformat(), "to": (NOW + timedelta(days=1)).isoformat()},
            headers=marketing,
        )
        assert unknown.status_code == 404
        calibration = await client.get("/v1/models/demo-1/calibration", headers=marketing)
        assert calibration.status_code == 200
        assert all(r["proposed_points"] is None for r in calibration.json()["rules"])
        assert calibration.json()["rules"][0]["note"].startswith("not enough evidence")
        nothing = await client.post("/v1/models/demo-1/proposals", json={}, headers=marketing)
        assert nothing.status_code == 409, nothing.text
        chosen = await client.post(
            "/v1/models/demo-1/proposals",
            json={"rules": ["senior_title", "nope"]},
            headers=marketing,
        )
        assert chosen.status_code == 422
        assert [e["field"] for e in chosen.json()["errors"]] == ["rules.0", "rules.1"]
        assert "not enough evidence" in chosen.json()["errors"][0]["reason"]
        drift = await client.get("/v1/drift", headers=marketing)
        assert drift.status_code == 200 and drift.json()["margin"] == 0.05
        crm = await client.get("/v1/models/demo-1/calibration", headers=auth(api_keys["crm"]))
        assert crm.status_code == 403


async def test_two_instances_never_work_on_the_same_backtest(uow: UowFactory) -> None:
    async with uow() as unit:
        await request_backtest(
            RequestBacktest("demo-1", NOW - timedelta(days=1), NOW + timedelta(days=1), "t"), unit
        )
    async with uow() as first:
        assert await run_backtests(first)  # holds the backtest's row until it commits
        async with uow() as second:
            await second.session.execute(text("SET LOCAL lock_timeout = '2s'"))  # never hang
            assert not await run_backtests(second)  # skips it: nothing else to do


async def test_a_backtest_begun_before_the_replay_starts_again(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """One begun in lead-id order before migration 0005 (a cursor, no cursor_at) is redone."""
    for _ in range(3):
        await scored_lead(uow)
    async with uow() as unit:
        await request_backtest(
            RequestBacktest("demo-1", NOW - timedelta(days=1), NOW + timedelta(days=1), "t"), unit
        )
    stale = '{"version": {"2026-11-02": {"50": [9, 0, 0]}}}'
    await sql(engine, "SELECT 1")
    async with uow() as unit:
        await unit.session.execute(
            text(
                "UPDATE scoring.backtests SET status = 'running', done = 2,"
                " cursor = gen_random_uuid(), tally = CAST(:tally AS jsonb)"
            ),
            {"tally": stale},
        )
    async with uow() as unit:
        assert await run_backtests(unit)
    [row] = await sql(engine, "SELECT status, done, result FROM scoring.backtests")
    assert (row.status, row.done, row.result["version"]["leads"]) == ("done", 3, 3)
