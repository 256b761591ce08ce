"""Capture and scoring running together in-process on the real broker and PostgreSQL: a lead and
its demo request become an explained score and an MQL; an erasure removes the person."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from handoff.demo_scoring import DEMO_MODEL
from services.capture.app import create_app as create_capture
from services.scoring.app import create_app as create_scoring
from services.scoring.repository import install_active_model
from shared.settings import Settings
from tests.helpers import auth, reading, running, wait_for

pytestmark = pytest.mark.asyncio

LEAD = {
    "email": "ada@analytical.example",
    "first_name": "Ada",
    "job_title": "Head of Engineering",
    "company": "Analytical Engines",
    "company_size": "51-200",
    "industry": "software",
    "country": "gb",
    "consent": {"given": True, "text_version": "2026-01"},
}


async def test_a_lead_and_a_demo_request_become_an_explained_mql_then_are_erased(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    await install_active_model(settings.database_url, DEMO_MODEL, by="demo")
    marketing = api_keys["marketing"]
    async with (
        running(create_capture(settings)) as capture,
        running(create_scoring(settings)) as scoring,
        reading(settings.kafka_bootstrap, settings.topic("lead.scored.v1")) as scored,
        reading(settings.kafka_bootstrap, settings.topic("lead.mql.v1")) as mqls,
    ):
        answer = await capture.post("/v1/leads", json=LEAD, headers=auth(marketing))
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["lead_id"]
        [first] = await scored.wait_for_count(1, timeout_s=30)
        assert json.loads(first.value)["payload"]["total_score"] == 50  # fit only: held
        demo = {
            "lead_id": lead_id,
            "activity_type": "demo_request",
            "happened_at": datetime.now(UTC).isoformat(),
        }
        answer = await capture.post("/v1/activities", json=demo, headers=auth(marketing))
        assert answer.status_code == 202, answer.text

        [record] = await mqls.wait_for_count(1, timeout_s=30)
        [_, second] = await scored.wait_for_count(2, timeout_s=30)
        payload = json.loads(second.value)["payload"]
        fired = {rule["rule"]: rule["points"] for rule in payload["explanation"]}
        assert fired["demo_request"] > 0 and fired["senior_title"] == 20
        mql = json.loads(record.value)
        assert mql["lead_id"] == lead_id and mql["payload"]["score"] == payload["total_score"]
        assert mql["payload"]["profile"]["company_domain"] == "analytical.example"
        assert mql["correlation_id"] == json.loads(first.value)["correlation_id"]

        erased = await capture.post(f"/v1/leads/{lead_id}/erase", headers=auth(marketing))
        assert erased.status_code == 202, erased.text

        async def gone() -> bool:
            score = await scoring.get(f"/v1/leads/{lead_id}/score", headers=auth(marketing))
            return score.status_code == 404

        await wait_for(gone, timeout_s=30, message="scoring to erase the lead")  # type: ignore[arg-type]
