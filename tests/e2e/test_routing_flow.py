"""The whole pipe in-process on the real broker and PostgreSQL — capture, scoring, routing and
feedback together: form leads with a demo request become MQLs, then SQLs assigned with their rule
and strategy; a lead failing a criterion goes back to marketing; with the only rep full the next
SQL waits in the queue, and the rep's rejection of their lead frees the slot for it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from handoff.demo_routing import CRITERIA, load_routing
from handoff.demo_scoring import DEMO_MODEL
from services.capture.app import create_app as create_capture
from services.feedback.app import create_app as create_feedback
from services.routing.app import create_app as create_routing
from services.scoring.app import create_app as create_scoring
from services.scoring.repository import install_active_model
from shared.db import create_engine
from shared.settings import Settings
from tests.helpers import TopicReader, auth, reading, running, wait_for

pytestmark = pytest.mark.asyncio

FORM = {
    "name": "Request a demo",
    "field_mapping": {
        field: field
        for field in ("email", "job_title", "company", "company_size", "industry", "country")
    }
    | {"agree": "consent"},
    "required_fields": ["email"],
    "allowed_origins": ["*"],
    "consent_required": True,
    "consent_text": "You may contact me about this demo.",
    "consent_version": "e2e-1",
}
ONE_REP = {  # the sales key of the `api_keys` fixture acts for rep-1
    "teams": [{"id": "emea", "name": "EMEA", "fallback": True, "sla_minutes": 60}],
    "reps": [
        {
            "id": "rep-1",
            "email": "rep-1@sales.example",
            "name": "Rep One",
            "team": "emea",
            "capacity": 1,
            "timezone": "UTC",
            "working_hours": "always",
        }
    ],
    "rules": [{"name": "everyone", "team": "emea"}],
}


def visitor(name: str, country: str = "GB") -> dict[str, str]:
    """A good fit (senior title, target size and industry) who ticks the consent box."""
    return {
        "email": f"{name}@{name}-corp.example",
        "job_title": "Head of Engineering",
        "company": f"{name.title()} Corp",
        "company_size": "51-200",
        "industry": "software",
        "country": country,
        "agree": "yes",
    }


async def form_lead_with_demo_request(
    capture: httpx.AsyncClient, marketing: str, fields: dict[str, str]
) -> str:
    answer = await capture.post("/v1/forms/e2e/submissions", data=fields)
    assert answer.status_code == 202, answer.text
    lead_id: str = answer.json()["lead_id"]
    demo = {"lead_id": lead_id, "activity_type": "demo_request"}
    answer = await capture.post("/v1/activities", json=demo, headers=auth(marketing))
    assert answer.status_code == 202, answer.text
    return lead_id


def for_lead(reader: TopicReader, lead_id: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def found() -> dict[str, Any] | None:
        for record in await reader.poll():
            event: dict[str, Any] = json.loads(record.value)
            if event["lead_id"] == lead_id:
                return event
        return None

    return found


async def test_form_leads_are_assigned_returned_queued_and_served_when_a_slot_frees(
    settings: Settings, api_keys: dict[str, str], db_url: str
) -> None:
    await install_active_model(settings.database_url, DEMO_MODEL, by="e2e")
    await load_routing(settings, ONE_REP, CRITERIA, by="e2e")
    marketing, sales = api_keys["marketing"], api_keys["sales"]
    topic = settings.topic
    async with (
        running(create_capture(settings)) as capture,
        running(create_scoring(settings)),
        running(create_routing(settings)),
        running(create_feedback(settings)) as feedback,
        reading(settings.kafka_bootstrap, topic("lead.mql.v1")) as mqls,
        reading(settings.kafka_bootstrap, topic("lead.assigned.v1")) as assigned,
        reading(settings.kafka_bootstrap, topic("lead.returned.v1")) as returned,
        reading(settings.kafka_bootstrap, topic("lead.queued.v1")) as queued,
    ):
        answer = await capture.put("/v1/forms/e2e", json=FORM, headers=auth(api_keys["admin"]))
        assert answer.status_code in (200, 201), answer.text

        first = await form_lead_with_demo_request(capture, marketing, visitor("ada"))
        mql = await wait_for(for_lead(mqls, first), timeout_s=30, message="the first MQL")
        assert mql["payload"]["profile"]["consent_given"] is True
        assignment = await wait_for(for_lead(assigned, first), timeout_s=30, message="assigned")
        assert assignment["payload"]["rep_id"] == "rep-1"
        assert assignment["payload"]["rule"] == "everyone"
        assert assignment["payload"]["strategy"] in ("least_loaded", "weighted_round_robin")
        assert assignment["correlation_id"] == mql["correlation_id"]

        # Iran is an excluded country in the agreed criteria: an MQL, but not an SQL.
        excluded = await form_lead_with_demo_request(capture, marketing, visitor("kaveh", "IR"))
        back = await wait_for(for_lead(returned, excluded), timeout_s=30, message="returned")
        assert back["payload"]["failed_criterion"] == "excluded_countries", back["payload"]
        assert back["payload"]["criteria_version"]

        # rep-1 holds the first lead: the next SQL waits first in line.
        second = await form_lead_with_demo_request(capture, marketing, visitor("grace"))
        waiting = await wait_for(for_lead(queued, second), timeout_s=30, message="queued")
        assert waiting["payload"]["queue_position"] == 1
        assert await for_lead(assigned, second)() is None

        verdict = {"lead_id": first, "verdict": "rejected", "reason_code": "no_budget"}

        async def rejected() -> bool:  # feedback learns of the assignment from its event
            answer = await feedback.post("/v1/feedback", json=verdict, headers=auth(sales))
            assert answer.status_code in (201, 404, 409), answer.text
            return answer.status_code == 201

        await wait_for(rejected, timeout_s=30, message="feedback to take rep-1's verdict")
        served = await wait_for(for_lead(assigned, second), timeout_s=30, message="served")
        assert served["payload"]["rep_id"] == "rep-1"

    engine = create_engine(db_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            load = await connection.scalar(
                text("SELECT open_load FROM routing.reps WHERE id = 'rep-1'")
            )
    finally:
        await engine.dispose()
    assert load == 1  # the second lead's, never more than the capacity
