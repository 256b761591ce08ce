"""A lead's score explained as of now: `GET /v1/leads/{id}/score` gives the rules as of the last
scoring and, under `now`, each engagement rule decayed to the request's instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.scoring.app import create_app
from services.scoring.handlers.leads import record_activity, record_capture
from services.scoring.handlers.qualify import evaluate
from shared.settings import Settings
from tests.helpers import UowFactory, auth, running
from tests.scoring.conftest import activity, captured

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("demo_model")]


async def test_the_score_shows_engagement_decayed_to_now_beside_the_last_scoring(
    settings: Settings, api_keys: dict[str, str], uow: UowFactory
) -> None:
    lead = captured()
    assert lead.lead_id is not None
    async with uow() as unit:
        await record_capture(lead, unit)
    long_ago = datetime.now(UTC) - timedelta(days=60)  # two half-lives of demo_request (30 days)
    async with uow() as unit:
        await record_activity(activity(lead.lead_id, "demo_request", at=long_ago), unit)
    async with uow() as unit:  # the last scoring, as a sweep would have done it back then
        await evaluate(unit, lead.lead_id, long_ago + timedelta(minutes=1))

    async with running(create_app(settings)) as client:
        before = datetime.now(UTC)
        answer = await client.get(
            f"/v1/leads/{lead.lead_id}/score", headers=auth(api_keys["sales"])
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    then = {r["rule"]: r for r in body["rules"]}
    assert datetime.fromisoformat(body["scored_at"]) < before - timedelta(days=59)
    assert then["demo_request"]["decayed"] == 40.0 and body["engagement"] == 40
    now = body["now"]
    assert before <= datetime.fromisoformat(now["at"]) <= datetime.now(UTC)
    [demo] = now["rules"]  # engagement only: fit does not decay
    assert demo["rule"] == "demo_request" and demo["decayed"] == pytest.approx(10.0, abs=0.01)
    assert (now["engagement"], now["total"]) == (10, body["fit"] + 10)
