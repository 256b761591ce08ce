"""`handoff demo`'s traffic: the generator is seeded and believable, every lead and activity is
one capture's API accepts, the simulated sales side follows feedback's rules; and run against
the four services it fills the funnel from capture to verdicts."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rich.console import Console

from handoff.demo_routing import load_routing_demo
from handoff.demo_scoring import load_scoring_demo
from handoff.demo_traffic import FREE_MAIL, _post, generate, run_demo, sales_answer
from services.capture.app import create_app as create_capture
from services.capture.schemas import ActivityBatchIn, LeadIn
from services.feedback.app import create_app as create_feedback
from services.feedback.domain.stages import Stage, allowed_verdicts
from services.feedback.domain.verdicts import content_problems
from services.feedback.schemas import VerdictIn
from services.routing.app import create_app as create_routing
from services.scoring.app import create_app as create_scoring
from shared.settings import Settings
from tests.e2e.test_journey import served
from tests.helpers import auth, wait_for


def test_the_same_seed_gives_the_same_leads_and_another_seed_others() -> None:
    assert generate(7, 200) == generate(7, 200)
    assert [lead.email for lead in generate(7, 50)] != [lead.email for lead in generate(8, 50)]


def test_the_leads_look_like_marketing_traffic() -> None:
    leads = generate(11, 3000)
    fresh = [lead for lead in leads if not lead.duplicate]
    free = sum(lead.email.rsplit("@", 1)[1] in FREE_MAIL for lead in fresh) / len(fresh)
    assert 0.17 < free < 0.27
    assert 0.03 < sum(lead.duplicate for lead in leads) / len(leads) < 0.09
    campaigns = Counter(lead.lead["attribution"].get("utm_campaign") for lead in leads)
    assert len(campaigns) >= 6 and campaigns[None] > 0  # organic traffic has no campaign
    assert len({lead.lead["country"] for lead in leads}) >= 10
    kinds = Counter(a.activity_type for lead in leads for a in lead.activities)
    assert {"page_view", "pricing_page_view", "content_download", "demo_request"} <= set(kinds)
    assert kinds["page_view"] > kinds["demo_request"] > 0


def test_every_lead_and_activity_is_one_captures_api_accepts() -> None:
    now = datetime.now(UTC)
    for lead in generate(3, 400):
        LeadIn.model_validate(lead.lead)
        if lead.activities:
            ActivityBatchIn.model_validate(
                {"activities": [a.body(lead.email, now) for a in lead.activities]}
            )


@hypothesis_settings(max_examples=300)
@given(
    seed=st.integers(0, 2**31),
    stage=st.sampled_from(list(Stage)),
    title=st.sampled_from(["CEO", "Student", "Analyst", "", "Marketing Manager"]),
    score=st.one_of(st.none(), st.integers(0, 150)),
)
def test_the_sales_side_only_gives_verdicts_feedback_allows(
    seed: int, stage: Stage, title: str, score: int | None
) -> None:
    lead = {
        "lead_id": "0b5e4a8e-0000-4000-8000-000000000001",
        "stage": stage.value,
        "job_title": title,
        "score": score,
    }
    answer = sales_answer(seed, lead)
    assert answer == sales_answer(seed, lead)  # the same every time it is asked
    if answer is None:
        return
    verdict = VerdictIn.model_validate(answer)
    assert verdict.verdict in allowed_verdicts(stage)
    assert not content_problems(
        verdict.verdict, verdict.reason_code, verdict.deal_value, verdict.currency
    )


@pytest.mark.asyncio
async def test_demo_traffic_fills_the_funnel_down_to_verdicts(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    await asyncio.to_thread(load_scoring_demo, settings.database_url, settings.secret_key)
    await asyncio.to_thread(load_routing_demo, settings.database_url, settings.secret_key)
    async with (
        served(create_capture(settings)) as capture_url,
        served(create_scoring(settings)),
        served(create_routing(settings)),
        served(create_feedback(settings)) as feedback_url,
    ):
        tally = await run_demo(
            capture_url=capture_url,
            feedback_url=feedback_url,
            marketing_key=api_keys["marketing"],
            crm_key=api_keys["crm"],
            seed=5,
            count=60,
            answer_after_s=0.5,
            sales_for_s=120,
            idle_s=20,  # the whole suite may be running beside it
            console=Console(quiet=True),
        )
        fresh = sum(not lead.duplicate for lead in generate(5, 60))  # a duplicate merges
        async with httpx.AsyncClient(base_url=feedback_url) as feedback:

            async def every_lead_counted() -> dict | None:
                funnel = await feedback.get(
                    "/v1/reports/funnel", headers=auth(api_keys["marketing"])
                )
                rows = funnel.json()["rows"]
                return rows[0] if rows and rows[0]["lead"] == fresh else None

            row = await wait_for(every_lead_counted, timeout_s=60, message="every lead counted")
    assert tally.refused == 0 and tally.posted == 60 and tally.activities > 60
    assert tally.verdicts_refused == {}
    assert tally.verdicts.get("accepted", 0) > 0 and tally.verdicts.get("rejected", 0) > 0
    assert row["sql"] > 0 and row["accepted"] == tally.verdicts["accepted"]


@pytest.mark.asyncio
async def test_the_demo_client_sends_the_same_body_again_after_a_503() -> None:
    """A 503 means nothing was written (an outage, or a conflict between transactions): the
    simulated sales side waits its Retry-After and tries again instead of counting a refusal."""
    answers = iter([503, 503, 201])
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(next(answers), headers={"Retry-After": "0"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        sent = await _post(client, "http://feedback/v1/feedback", {"verdict": "accepted"})
    assert sent.status_code == 201
    assert len(bodies) == 3 and len(set(bodies)) == 1
