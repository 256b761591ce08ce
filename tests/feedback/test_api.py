"""Verdicts through the API: the state machine, who may judge, the event, and the lead views."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest

from shared.events import utc_now
from shared.settings import Settings
from tests.feedback.conftest import T0, Journey, Publish, verdict
from tests.helpers import auth, reading, wait_for

pytestmark = pytest.mark.asyncio


async def stage_of(client: httpx.AsyncClient, key: str, lead_id: uuid.UUID) -> str | None:
    answer = await client.get(f"/v1/leads/{lead_id}/timeline", headers=auth(key))
    return answer.json()["lead"]["stage"] if answer.status_code == 200 else None


async def until_stage(client: httpx.AsyncClient, key: str, lead_id: uuid.UUID, stage: str) -> None:
    async def reached() -> bool:
        return await stage_of(client, key, lead_id) == stage

    await wait_for(reached, message=f"lead {lead_id} at {stage}")


async def assigned_lead(
    publish: Publish, client: httpx.AsyncClient, keys: dict[str, str], rep: str = "rep-1"
) -> Journey:
    lead = Journey()
    await publish(
        lead.captured(T0),
        lead.mql(T0 + timedelta(minutes=5)),
        lead.assigned(T0 + timedelta(minutes=6), rep=rep),
    )
    await until_stage(client, keys["marketing"], lead.lead_id, "assigned")
    return lead


async def post(client: httpx.AsyncClient, key: str, body: dict, **headers: str) -> httpx.Response:
    return await client.post("/v1/feedback", json=body, headers=auth(key) | headers)


async def test_a_verdict_walks_the_machine_and_each_becomes_an_event(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], settings: Settings
) -> None:
    lead = await assigned_lead(publish, feedback, api_keys)
    sales = api_keys["sales"]
    async with reading(settings.kafka_bootstrap, settings.topic("lead.feedback.v1")) as topic:
        accepted = await post(feedback, sales, verdict(lead.lead_id, "accepted", quality_rating=4))
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["stage"] == "accepted"
        assert accepted.json()["allowed_next"] == ["recycled", "converted", "won", "lost"]
        converted = await post(feedback, sales, verdict(lead.lead_id, "converted"))
        assert converted.status_code == 201
        won = await post(
            feedback, sales, verdict(lead.lead_id, "won", deal_value="1200.50", currency="eur")
        )
        assert won.status_code == 201, won.text
        assert won.json()["allowed_next"] == []
        records = await topic.wait_for_count(3)
    events = [json.loads(r.value) for r in records]
    assert [e["payload"]["verdict"] for e in events] == ["accepted", "converted", "won"]
    assert {r.key for r in records} == {str(lead.lead_id).encode()}
    assert events[0]["event_id"] == accepted.json()["event_id"]
    assert events[0]["correlation_id"] == str(lead.correlation_id)
    assert events[2]["payload"] == {
        "verdict": "won",
        "rep_id": "rep-1",
        "deal_value": "1200.50",
        "currency": "EUR",
    }
    timeline = (
        await feedback.get(f"/v1/leads/{lead.lead_id}/timeline", headers=auth(api_keys["crm"]))
    ).json()
    assert [e["event_type"] for e in timeline["events"]] == [
        "lead.captured",
        "lead.mql",
        "lead.assigned",
        "lead.feedback",
        "lead.feedback",
        "lead.feedback",
    ]
    assert timeline["events"][2]["summary"].startswith("assigned to rep-1 (team emea) by rule")
    assert timeline["events"][3]["actor"] == "rep-1"
    assert timeline["events"][3]["summary"] == "accepted, rated 4/5"
    assert timeline["events"][5]["summary"] == "won, deal 1200.50 EUR"


async def test_an_illegal_step_is_409_naming_the_stage_and_the_allowed_verdicts(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], settings: Settings
) -> None:
    lead = await assigned_lead(publish, feedback, api_keys)
    won = await post(
        feedback, api_keys["sales"], verdict(lead.lead_id, "won", deal_value="1", currency="EUR")
    )
    assert won.status_code == 409
    assert won.json() == {
        "detail": "the lead is assigned; it cannot become won",
        "errors": [
            {"field": "verdict", "reason": "allowed from assigned: accepted, rejected, recycled"}
        ],
    }
    rejected = await post(
        feedback, api_keys["sales"], verdict(lead.lead_id, "rejected", reason_code="no_budget")
    )
    assert rejected.status_code == 201
    again = await post(feedback, api_keys["sales"], verdict(lead.lead_id, "accepted"))
    assert again.status_code == 409
    assert "work ended at rejected" in again.json()["errors"][0]["reason"]
    async with reading(settings.kafka_bootstrap, settings.topic("lead.feedback.v1")) as topic:
        await topic.wait_for_count(1)
        await topic.assert_no_more(1, quiet_s=0.5)


async def test_a_verdict_missing_its_reason_or_carrying_a_deal_is_422_with_the_fields(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = await assigned_lead(publish, feedback, api_keys)
    answer = await post(
        feedback,
        api_keys["sales"],
        verdict(lead.lead_id, "recycled", deal_value="5", currency="EUR"),
    )
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == [
        "reason_code",
        "deal_value",
        "currency",
    ]
    bad = await post(
        feedback,
        api_keys["sales"],
        verdict(lead.lead_id, "accepted", quality_rating=6, note="a\x00b", currency="XXY"),
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"quality_rating", "note", "currency"}
    assert await stage_of(feedback, api_keys["sales"], lead.lead_id) == "assigned"


async def test_a_sales_key_judges_only_its_reps_current_leads(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    sales = api_keys["sales"]  # acts for rep-1
    theirs = await assigned_lead(publish, feedback, api_keys, rep="rep-2")
    refused = await post(feedback, sales, verdict(theirs.lead_id, "accepted"))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "the lead is assigned to another rep, not to rep-1"

    mine = await assigned_lead(publish, feedback, api_keys, rep="rep-1")
    # The rep misses the deadline; routing reassigns the lead to rep-2.
    await publish(mine.assigned(T0 + timedelta(hours=5), rep="rep-2", attempt=2, previous="rep-1"))

    async def reassigned() -> bool:
        answer = await feedback.get(
            f"/v1/leads/{mine.lead_id}/timeline", headers=auth(api_keys["marketing"])
        )
        return answer.json()["lead"]["rep"] == "rep-2"

    await wait_for(reassigned, message="reassignment seen")
    late = await post(feedback, sales, verdict(mine.lead_id, "accepted"))
    assert late.status_code == 403 and "another rep" in late.json()["detail"]

    by_crm = await post(feedback, api_keys["crm"], verdict(mine.lead_id, "accepted"))
    assert by_crm.status_code == 201 and by_crm.json()["rep_id"] == "rep-2"
    marketing = await post(feedback, api_keys["marketing"], verdict(mine.lead_id, "lost"))
    assert marketing.status_code == 403
    assert "needs" in marketing.json()["detail"]
    nobody = await post(feedback, "hk_not-a-key", verdict(mine.lead_id, "lost"))
    assert nobody.status_code == 401


async def test_no_verdict_before_assignment_and_none_on_an_unknown_lead(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = Journey()
    await publish(lead.captured(T0), lead.mql(T0 + timedelta(minutes=1)))
    await until_stage(feedback, api_keys["crm"], lead.lead_id, "mql")
    early = await post(feedback, api_keys["crm"], verdict(lead.lead_id, "accepted"))
    assert early.status_code == 409
    assert "before the lead is assigned" in early.json()["errors"][0]["reason"]
    sales = await post(feedback, api_keys["sales"], verdict(lead.lead_id, "accepted"))
    assert sales.status_code == 403 and "not assigned to any rep" in sales.json()["detail"]
    unknown = await post(feedback, api_keys["crm"], verdict(uuid.uuid4(), "accepted"))
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "lead_id"


async def test_a_recycled_lead_assigned_again_opens_a_new_round(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = await assigned_lead(publish, feedback, api_keys)
    recycled = await post(
        feedback, api_keys["sales"], verdict(lead.lead_id, "recycled", reason_code="bad_timing")
    )
    assert recycled.status_code == 201
    later = utc_now() + timedelta(seconds=1)  # the lead qualifies again after the verdict
    await publish(lead.mql(later), lead.assigned(later + timedelta(minutes=1)))
    await until_stage(feedback, api_keys["sales"], lead.lead_id, "assigned")
    accepted = await post(feedback, api_keys["sales"], verdict(lead.lead_id, "accepted"))
    assert accepted.status_code == 201


async def test_the_lead_list_filters_and_pages(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    leads = [Journey() for _ in range(5)]
    for n, lead in enumerate(leads):
        day = T0 + timedelta(days=n)
        await publish(lead.captured(day, source="ads" if n % 2 else "web", campaign=f"c{n % 2}"))
    await publish(leads[1].mql(T0 + timedelta(days=1, hours=1)))
    await publish(leads[1].assigned(T0 + timedelta(days=1, hours=2), rep="rep-9", team="apac"))
    key = api_keys["sales"]

    async def listed(**query: str) -> list[str]:
        answer = await feedback.get("/v1/leads", params=query, headers=auth(key))
        assert answer.status_code == 200, answer.text
        return [item["lead_id"] for item in answer.json()["items"]]

    async def all_in() -> bool:
        return len(await listed()) == 5 and await listed(rep="rep-9") == [str(leads[1].lead_id)]

    await wait_for(all_in, message="five leads listed")
    ids = [str(lead.lead_id) for lead in reversed(leads)]  # newest capture day first
    assert await listed() == ids
    assert await listed(source="ads") == [str(leads[3].lead_id), str(leads[1].lead_id)]
    assert await listed(campaign="c0") == [ids[0], ids[2], ids[4]]
    assert await listed(team="apac", state="assigned") == [str(leads[1].lead_id)]
    # Captured on 2026-03-02 + n; leads[1] has moved on to assigned.
    assert await listed(state="captured", **{"from": "2026-03-03", "to": "2026-03-05"}) == [
        str(leads[3].lead_id),
        str(leads[2].lead_id),
    ]
    first = (await feedback.get("/v1/leads", params={"limit": 2}, headers=auth(key))).json()
    assert [item["lead_id"] for item in first["items"]] == ids[:2]
    second = (
        await feedback.get(
            "/v1/leads", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth(key)
        )
    ).json()
    assert [item["lead_id"] for item in second["items"]] == ids[2:4]
    last = (
        await feedback.get(
            "/v1/leads", params={"limit": 2, "cursor": second["next_cursor"]}, headers=auth(key)
        )
    ).json()
    assert [item["lead_id"] for item in last["items"]] == ids[4:] and last["next_cursor"] is None
    bad = await feedback.get("/v1/leads", params={"cursor": "nope"}, headers=auth(key))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    empty = await feedback.get(
        "/v1/leads", params={"from": "2026-03-05", "to": "2026-03-01"}, headers=auth(key)
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "from"
    state = await feedback.get("/v1/leads", params={"state": "asleep"}, headers=auth(key))
    assert state.status_code == 422 and state.json()["errors"][0]["field"] == "state"


async def test_an_idempotency_key_gives_the_first_answer_again_and_publishes_once(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], settings: Settings
) -> None:
    lead = await assigned_lead(publish, feedback, api_keys)
    sales = api_keys["sales"]
    body = verdict(lead.lead_id, "accepted", quality_rating=3, note="  Good   fit ")
    key = {"Idempotency-Key": "verdict-1"}
    async with reading(settings.kafka_bootstrap, settings.topic("lead.feedback.v1")) as topic:
        first = await post(feedback, sales, body, **key)
        again = await post(feedback, sales, body, **key)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        records = await topic.wait_for_count(1)
        await topic.assert_no_more(1, quiet_s=0.5)
    assert json.loads(records[0].value)["payload"]["note"] == "Good fit"
    other = await post(feedback, sales, verdict(lead.lead_id, "converted"), **key)
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    # A refused request keeps no answer: its key is free again, even for another body.
    refused = await post(
        feedback,
        sales,
        verdict(lead.lead_id, "rejected", reason_code="spam"),
        **{"Idempotency-Key": "verdict-2"},
    )
    assert refused.status_code == 409
    later = await post(
        feedback, sales, verdict(lead.lead_id, "converted"), **{"Idempotency-Key": "verdict-2"}
    )
    assert later.status_code == 201 and later.json()["stage"] == "converted"
