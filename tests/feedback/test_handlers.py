"""Feedback's consumers: every lead event on the timeline with who and why, redeliveries
handled once, events from different topics in any order, and erasure."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.events import ActivityProperties, LeadActivity, LeadActivityEvent
from shared.settings import Settings
from tests.feedback.conftest import T0, Journey, Publish, verdict
from tests.helpers import auth, wait_for

pytestmark = pytest.mark.asyncio


async def timeline_of(client: httpx.AsyncClient, key: str, journey: Journey) -> httpx.Response:
    return await client.get(f"/v1/leads/{journey.lead_id}/timeline", headers=auth(key))


async def until_events(client: httpx.AsyncClient, key: str, journey: Journey, count: int) -> dict:
    async def arrived() -> dict | None:
        answer = await timeline_of(client, key, journey)
        ok = answer.status_code == 200 and len(answer.json()["events"]) == count
        return answer.json() if ok else None

    return await wait_for(arrived, message=f"{count} events on the timeline")


async def test_the_timeline_says_who_acted_and_why_in_order(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = Journey()
    activity = LeadActivityEvent(
        producer="capture",
        lead_id=lead.lead_id,
        correlation_id=lead.correlation_id,
        occurred_at=T0 + timedelta(minutes=1),
        payload=LeadActivity(
            activity_type="pricing_page_view",
            happened_at=T0 + timedelta(minutes=1),
            properties=ActivityProperties(url="https://example.com/pricing"),
        ),
    )
    # Sent newest first: the timeline orders by when things happened, not by arrival.
    await publish(
        lead.queued(T0 + timedelta(minutes=4)),
        lead.returned(T0 + timedelta(minutes=3)),
        lead.mql(T0 + timedelta(minutes=2, seconds=1)),
        lead.scored(T0 + timedelta(minutes=2), score=72, threshold=60),
        activity,
        lead.captured(T0),
    )
    timeline = await until_events(feedback, api_keys["marketing"], lead, 6)
    events = timeline["events"]
    assert [e["event_type"] for e in events] == [
        "lead.captured",
        "lead.activity",
        "lead.scored",
        "lead.mql",
        "lead.returned",
        "lead.queued",
    ]
    assert [e["actor"] for e in events] == [
        "capture",
        "capture",
        "scoring",
        "scoring",
        "routing",
        "routing",
    ]
    assert events[0]["summary"] == "captured from form demo, source ads, campaign spring"
    assert "email" not in str(events[0]["detail"])  # the contact lives in the lead's row only
    assert events[1]["summary"] == "pricing_page_view"
    assert events[2]["summary"] == (
        "scored 72 (fit 40, grade B, engagement 32) by model m1, threshold 60; "
        "rules: title_head +40"
    )
    assert events[4]["summary"] == (
        "returned to nurture: country excluded (criterion excluded_countries, criteria c1)"
    )
    assert events[5]["summary"].startswith("queued for team emea at position 1")
    lead_view = timeline["lead"]
    assert (lead_view["stage"], lead_view["score"], lead_view["email"]) == (
        "queued",
        72,
        f"{lead.lead_id.hex[:8]}@example.com",
    )


async def test_a_redelivered_event_counts_once(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = Journey()
    mql = lead.mql(T0 + timedelta(minutes=1))
    await publish(lead.captured(T0), mql, mql, mql)
    await until_events(feedback, api_keys["marketing"], lead, 2)
    funnel = await feedback.get(
        "/v1/reports/funnel",
        params={"from": "2026-03-02", "to": "2026-03-02"},
        headers=auth(api_keys["marketing"]),
    )
    assert [(r["lead"], r["mql"]) for r in funnel.json()["rows"]] == [(1, 1)]
    capacity = await feedback.get(
        "/v1/reports/capacity",
        params={"from": "2026-03-02", "to": "2026-03-02"},
        headers=auth(api_keys["marketing"]),
    )
    assert capacity.json()["rows"][0]["mqls"] == 1


async def rows_about(settings: Settings, lead_id: uuid.UUID) -> dict[str, int]:
    """What feedback's tables still hold about a lead, counted in the database itself."""
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            return {
                name: (
                    await connection.execute(
                        text(f"SELECT count(*) FROM feedback.{table} WHERE lead_id = :id"),
                        {"id": lead_id},
                    )
                ).scalar_one()
                for name, table in (
                    ("leads", "leads"),
                    ("timeline", "timeline"),
                    ("facts", "lead_facts"),
                )
            }
    finally:
        await engine.dispose()


async def test_erasure_removes_the_person_and_keeps_the_counts(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], settings: Settings
) -> None:
    key = api_keys["marketing"]
    lead, other = Journey(), Journey()
    await publish(
        lead.captured(T0),
        lead.mql(T0 + timedelta(minutes=1)),
        lead.assigned(T0 + timedelta(minutes=2)),
        other.captured(T0 + timedelta(minutes=5)),
    )
    await until_events(feedback, key, lead, 3)
    await until_events(feedback, key, other, 1)
    given = await feedback.post(
        "/v1/feedback",
        json=verdict(lead.lead_id, "accepted", note="Call back Tuesday"),
        headers=auth(api_keys["sales"]),
    )
    assert given.status_code == 201
    params = {"from": "2026-03-02", "to": "2026-03-02"}

    async def funnel() -> list[dict]:
        answer = await feedback.get("/v1/reports/funnel", params=params, headers=auth(key))
        return answer.json()["rows"]

    before = await funnel()
    assert (before[0]["lead"], before[0]["accepted"]) == (2, 1)

    await publish(lead.erased(T0 + timedelta(days=1)))

    async def gone() -> bool:
        return (await timeline_of(feedback, key, lead)).status_code == 410

    await wait_for(gone, message="the erased lead answers 410")
    assert await rows_about(settings, lead.lead_id) == {"leads": 0, "timeline": 0, "facts": 1}
    listed = await feedback.get("/v1/leads", headers=auth(key), params=params)
    assert [item["lead_id"] for item in listed.json()["items"]] == [str(other.lead_id)]
    assert await funnel() == before
    refused = await feedback.post(
        "/v1/feedback", json=verdict(lead.lead_id, "converted"), headers=auth(api_keys["sales"])
    )
    assert refused.status_code == 410
    # A late event of the erased lead still counts, but brings no person or timeline back.
    await publish(lead.scored(T0 + timedelta(days=2)), other.mql(T0 + timedelta(minutes=6)))
    await until_events(feedback, key, other, 2)
    assert (await timeline_of(feedback, key, lead)).status_code == 410
    assert await rows_about(settings, lead.lead_id) == {"leads": 0, "timeline": 0, "facts": 1}
    listed = await feedback.get("/v1/leads", headers=auth(key), params=params)
    assert [item["lead_id"] for item in listed.json()["items"]] == [str(other.lead_id)]
    assert (await funnel())[0]["mql"] == 2
