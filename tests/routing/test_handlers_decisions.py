"""Routing's MQL handler: an assignment with its rule and strategy, or a return to marketing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.routing.app import create_app
from services.routing.criteria import approve_criteria, draft_criteria
from services.routing.models import platform
from services.routing.schemas.criteria import CriteriaIn
from shared.auth import Principal, Role
from shared.events import (
    LeadAssignedEvent,
    LeadReturnedEvent,
    SalesCapacityEvent,
)
from shared.outbox import Outbox
from shared.uow import UnitOfWork
from tests.helpers import reading, running, wait_for
from tests.routing.conftest import Routing, mql, rep, team
from tests.routing.handlers_helpers import _events_of, values

pytestmark = pytest.mark.asyncio


async def test_an_mql_is_assigned_with_its_rule_and_strategy(routing: Routing) -> None:
    await routing.load(
        teams=[team("emea", strategy="weighted_round_robin"), team("world", fallback=True)],
        reps=[rep("ann"), rep("wes", "world")],
        rules=[{"name": "uk", "team": "emea", "countries": ["GB", "IE"]}],
    )
    uk, brazil = mql(country="GB"), mql(country="BR")
    async with (
        running(create_app(routing.settings)),
        reading(routing.settings.kafka_bootstrap, routing.topic(LeadAssignedEvent)) as assigned,
        reading(routing.settings.kafka_bootstrap, routing.topic(SalesCapacityEvent)) as capacity,
    ):
        await routing.send(uk)
        await routing.send(brazil)
        got = await _events_of(assigned, uk, brazil)
        first = got[str(uk.lead_id)]
        assert first["payload"] | {"follow_up_due": None} == {
            "rep_id": "ann",
            "rep_email": "ann@sales.example",
            "team_id": "emea",
            "rule": "uk",
            "strategy": "weighted_round_robin",
            "attempt": 1,
            "follow_up_due": None,
        }
        assert first["causation_id"] == str(uk.event_id)
        assert first["correlation_id"] == str(uk.correlation_id)
        assert (
            got[str(brazil.lead_id)]["payload"]["rule"],
            got[str(brazil.lead_id)]["payload"]["rep_id"],
        ) == ("fallback", "wes")
        await wait_for(
            lambda: _capacity_shows(capacity, "emea", open_load=1), message="emea capacity"
        )


async def _capacity_shows(reader: Any, team_id: str, **expected: int) -> bool:
    for event in values(await reader.poll()):
        payload = event["payload"]
        if payload["team_id"] == team_id and all(payload[k] == v for k, v in expected.items()):
            return True
    return False


async def test_a_failing_criterion_returns_the_lead_to_marketing(routing: Routing) -> None:
    await routing.load(teams=[team(fallback=True)], reps=[rep("ann")])
    async with routing.sessions() as session, session.begin():
        uow = UnitOfWork(session, Outbox(platform, routing.settings, "routing"), routing.settings)
        draft = await draft_criteria(CriteriaIn(excluded_countries=["RU"], min_grade="B"), uow)
        for role in (Role.marketing, Role.sales):
            who = Principal(uuid.uuid4(), f"{role} key", role, None)
            await approve_criteria(draft.version, who, uow)
    excluded, graded_c = mql(country="RU"), mql(grade="C")
    async with (
        running(create_app(routing.settings)),
        reading(routing.settings.kafka_bootstrap, routing.topic(LeadReturnedEvent)) as returned,
    ):
        await routing.send(graded_c)
        await routing.send(excluded)
        arrived = await _events_of(returned, graded_c, excluded)
        by_lead = {lead: event["payload"] for lead, event in arrived.items()}
        assert by_lead[str(excluded.lead_id)] == {
            "reason": "country RU is excluded",
            "failed_criterion": "excluded_countries",
            "criteria_version": "1",
        }
        assert {p["failed_criterion"] for p in by_lead.values()} == {
            "excluded_countries",
            "min_grade",
        }
    assert await routing.rows("SELECT 1 FROM routing.assignments") == []
