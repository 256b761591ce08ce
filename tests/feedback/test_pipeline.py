"""End to end, the four services in-process on the real broker and PostgreSQL: capture -> score
-> MQL -> assignment -> a verdict through feedback's API -> lead.feedback.v1 -> routing frees
the slot and scoring records the outcome -> the funnel report counts it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from handoff.demo_routing import load_routing_demo
from handoff.demo_scoring import load_scoring_demo
from services.capture.app import create_app as create_capture
from services.feedback.app import create_app as create_feedback
from services.routing.app import create_app as create_routing
from services.scoring.app import create_app as create_scoring
from shared.settings import Settings
from tests.helpers import auth, reading, running, wait_for

pytestmark = pytest.mark.asyncio

LEAD = {
    "email": "grace@compilers.example",
    "first_name": "Grace",
    "job_title": "Head of Engineering",
    "company": "Compilers Inc",
    "company_size": "51-200",
    "industry": "software",
    "country": "gb",
    "language": "en",
    "attribution": {"source": "ads", "utm_campaign": "loop"},
    "consent": {"given": True, "text_version": "2026-01"},
}


async def test_a_verdict_closes_the_loop(settings: Settings, api_keys: dict[str, str]) -> None:
    await asyncio.to_thread(load_scoring_demo, settings.database_url, settings.secret_key)
    await asyncio.to_thread(load_routing_demo, settings.database_url, settings.secret_key)
    marketing, crm = api_keys["marketing"], api_keys["crm"]
    async with (
        running(create_capture(settings)) as capture,
        running(create_scoring(settings)) as scoring,
        running(create_routing(settings)) as routing,
        running(create_feedback(settings)) as feedback,
        reading(settings.kafka_bootstrap, settings.topic("lead.assigned.v1")) as assigned,
        reading(settings.kafka_bootstrap, settings.topic("lead.feedback.v1")) as verdicts,
    ):
        answer = await capture.post("/v1/leads", json=LEAD, headers=auth(marketing))
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["lead_id"]
        demo = {
            "lead_id": lead_id,
            "activity_type": "demo_request",
            "happened_at": datetime.now(UTC).isoformat(),
        }
        answer = await capture.post("/v1/activities", json=demo, headers=auth(marketing))
        assert answer.status_code == 202, answer.text

        [record] = await assigned.wait_for_count(1, timeout_s=60)
        rep = json.loads(record.value)["payload"]["rep_id"]

        async def assigned_in_feedback() -> bool:
            timeline = await feedback.get(f"/v1/leads/{lead_id}/timeline", headers=auth(marketing))
            return timeline.status_code == 200 and timeline.json()["lead"]["rep"] == rep

        await wait_for(assigned_in_feedback, timeout_s=30, message="feedback sees the assignment")
        given = await feedback.post(
            "/v1/feedback",
            json={
                "lead_id": lead_id,
                "verdict": "recycled",
                "reason_code": "bad_timing",
                "note": "Budget opens next quarter",
            },
            headers=auth(crm),
        )
        assert given.status_code == 201, given.text
        [sent] = await verdicts.wait_for_count(1, timeout_s=30)
        event = json.loads(sent.value)
        assert event["lead_id"] == lead_id and event["payload"]["rep_id"] == rep
        assert event["correlation_id"] == json.loads(record.value)["correlation_id"]

        async def slot_freed() -> bool:
            routed = await routing.get(f"/v1/leads/{lead_id}/routing", headers=auth(marketing))
            return routed.status_code == 200 and all(
                a["status"] == "closed" for a in routed.json()["assignments"]
            )

        async def recycled_in_scoring() -> bool:
            score = await scoring.get(f"/v1/leads/{lead_id}/score", headers=auth(marketing))
            return score.status_code == 200 and score.json()["state"] == "recycled"

        await wait_for(slot_freed, timeout_s=30, message="routing frees the slot")
        await wait_for(recycled_in_scoring, timeout_s=30, message="scoring records the outcome")

        today = datetime.now(UTC).date().isoformat()
        funnel = await feedback.get(
            "/v1/reports/funnel",
            params={"from": today, "to": today, "group_by": "utm_campaign"},
            headers=auth(marketing),
        )
        [row] = funnel.json()["rows"]
        assert (row["utm_campaign"], row["lead"], row["mql"], row["sql"], row["recycled"]) == (
            "loop",
            1,
            1,
            1,
            1,
        )
