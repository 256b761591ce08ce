"""Issue 11 end to end through capture's public doors, capture and scoring running in-process on
the test's broker and database: a model goes live only with both approvals; a form submission
and a demo_request activity become an explained lead.scored.v1 and a lead.mql.v1; a recycle
resets engagement and the lead qualifies again only with fresh activity after the cooldown; an
erasure through capture removes the person from scoring."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from handoff.demo_scoring import DEMO_MODEL
from services.capture.app import create_app as create_capture
from services.scoring.app import create_app as create_scoring
from services.scoring.repository import forget_active_model
from shared.db import create_engine
from shared.events import Envelope, LeadFeedback, LeadFeedbackEvent, ReasonCode, Verdict
from shared.settings import Settings
from tests.helpers import TopicReader, auth, reading, running, wait_for

pytestmark = pytest.mark.asyncio

COOLDOWN_S = 4.0
MODEL = DEMO_MODEL.replace("version: demo-1", "version: form-1").replace(
    "cooldown_days: 30", f"cooldown_days: {COOLDOWN_S / 86_400:.8f}"
)
FORM = {
    "name": "Request a demo",
    "field_mapping": {
        "work_email": "email",
        "title": "job_title",
        "org": "company",
        "size": "company_size",
        "sector": "industry",
        "agree": "consent",
    },
    "required_fields": ["email", "company"],
    "allowed_origins": ["*"],
    "consent_required": True,
    "consent_text": "Analytical Engines may contact me about this demo.",
    "consent_version": "2026-01",
    "default_source": "website",
    "default_campaign": "demo-page",
}
SUBMISSION = {
    "work_email": "grace@navy.example",
    "first_name": "Grace",
    "title": "VP Engineering",
    "org": "Harvard Mark I",
    "size": "51-200",
    "sector": "software",
    "country": "US",
    "agree": "on",
}


@pytest_asyncio.fixture
async def publish(settings: Settings) -> AsyncIterator[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()

    async def send(event: Envelope) -> None:
        await producer.send_and_wait(settings.topic(event.topic), event.to_bytes(), key=event.key())

    yield send
    await producer.stop()


def payloads(reader: TopicReader, lead_id: str) -> list[dict[str, Any]]:
    return [
        json.loads(r.value)["payload"]
        for r in reader.records
        if json.loads(r.value)["lead_id"] == lead_id
    ]


async def test_a_form_lead_qualifies_is_recycled_requalifies_and_is_erased(
    settings: Settings, api_keys: dict[str, str], publish: Any
) -> None:
    forget_active_model()
    marketing, sales, admin = (auth(api_keys[r]) for r in ("marketing", "sales", "admin"))
    async with (
        running(create_capture(settings)) as capture,
        running(create_scoring(settings)) as scoring,
        reading(settings.kafka_bootstrap, settings.topic("lead.scored.v1")) as scored,
        reading(settings.kafka_bootstrap, settings.topic("lead.mql.v1")) as mqls,
    ):
        # approval rules: a draft goes live only with a marketing and a sales approval
        yaml = marketing | {"Content-Type": "application/yaml"}
        created = await scoring.post("/v1/models", content=MODEL, headers=yaml)
        assert created.status_code == 201, created.text
        await scoring.post("/v1/models/form-1/approve", headers=marketing)
        refused = await scoring.post("/v1/models/form-1/activate", headers=marketing)
        assert refused.status_code == 409, refused.text
        assert refused.json()["errors"] == [
            {"field": "approvals.sales", "reason": "missing the sales approval"}
        ]
        assert (await scoring.post("/v1/models/form-1/approve", headers=sales)).status_code == 200
        live = await scoring.post("/v1/models/form-1/activate", headers=sales)
        assert live.status_code == 202 and live.json()["status"] == "active", live.text
        forget_active_model()

        # a form submission, then a demo request posted to capture
        form = await capture.put("/v1/forms/demo-request", json=FORM, headers=admin)
        assert form.status_code == 201, form.text
        submitted = await capture.post("/v1/forms/demo-request/submissions", json=SUBMISSION)
        assert submitted.status_code == 202, submitted.text
        lead_id = submitted.json()["lead_id"]
        await scored.wait_for_count(1, timeout_s=30)
        [fit_only] = payloads(scored, lead_id)
        assert fit_only["total_score"] == 50  # 20 + 15 + 10 + 5: held below the base
        demo = {"lead_id": lead_id, "activity_type": "demo_request"}
        assert (
            await capture.post("/v1/activities", json=demo, headers=marketing)
        ).status_code == 202

        [mql] = [json.loads(r.value) for r in await mqls.wait_for_count(1, timeout_s=30)]
        await scored.wait_for_count(2, timeout_s=30)
        explained = payloads(scored, lead_id)[1]
        fired = {rule["rule"]: rule for rule in explained["explanation"]}
        assert {"senior_title", "target_size", "target_industry", "served_country"} < set(fired)
        assert (
            fired["demo_request"]["points"] == 40 and fired["demo_request"]["kind"] == "engagement"
        )
        assert explained["total_score"] == 90 and explained["model_version"] == "form-1"
        assert mql["lead_id"] == lead_id and mql["payload"]["score"] == 90
        assert mql["payload"]["profile"]["company"] == "Harvard Mark I"

        # sales recycles it (feedback's lead.feedback.v1): engagement resets, a cooldown runs
        await publish(
            LeadFeedbackEvent(
                producer="feedback",
                lead_id=lead_id,
                payload=LeadFeedback(verdict=Verdict.recycled, reason_code=ReasonCode.bad_timing),
            )
        )
        await scored.wait_for_count(3, timeout_s=30)
        assert payloads(scored, lead_id)[2]["total_score"] == 50  # engagement gone
        score = (await scoring.get(f"/v1/leads/{lead_id}/score", headers=sales)).json()
        assert (score["state"], score["recycles"]) == ("recycled", 1)
        cooldown_until = datetime.fromisoformat(score["cooldown_until"])

        # activity inside the cooldown does not count; it does not qualify the lead
        assert (
            await capture.post("/v1/activities", json=demo, headers=marketing)
        ).status_code == 202
        await wait_for(
            lambda: _scored_again(scoring, lead_id, sales, score["scored_at"]),
            timeout_s=30,
            message="the in-cooldown activity scored",
        )
        await mqls.assert_no_more(1, quiet_s=0.5)
        assert datetime.now(UTC) < cooldown_until, "the cooldown ended too soon for this test"

        # after the cooldown, fresh activity qualifies it again
        await wait_for(
            lambda: datetime.now(UTC) > cooldown_until, timeout_s=COOLDOWN_S + 5, message="cooldown"
        )
        assert (
            await capture.post("/v1/activities", json=demo, headers=marketing)
        ).status_code == 202
        records = await mqls.wait_for_count(2, timeout_s=30)
        again = json.loads(records[1].value)
        assert again["lead_id"] == lead_id and again["payload"]["score"] == 90

        # erasure through capture removes the person from scoring
        erased = await capture.post(f"/v1/leads/{lead_id}/erase", headers=marketing)
        assert erased.status_code == 202, erased.text

        async def gone() -> bool:
            answer = await scoring.get(f"/v1/leads/{lead_id}/score", headers=sales)
            return answer.status_code == 404

        await wait_for(gone, timeout_s=30, message="scoring to erase the lead")
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT t::text FROM scoring.leads t WHERE lead_id = :id"), {"id": lead_id}
            )
            [(line,)] = rows.all()
            activities = await connection.scalar(
                text("SELECT count(*) FROM scoring.activities WHERE lead_id = :id"), {"id": lead_id}
            )
    finally:
        await engine.dispose()
    assert activities == 0
    assert not any(trace in line for trace in ("Grace", "Harvard", "navy.example", "VP ")), line


async def _scored_again(client: Any, lead_id: str, key: dict[str, str], before: str) -> bool:
    score = (await client.get(f"/v1/leads/{lead_id}/score", headers=key)).json()
    return bool(score["scored_at"] != before)
