"""POST /v1/activities: each item accepted or rejected on its own, accepted ones on the topic."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import event, text

from services.capture.app import create_app
from shared.db import create_engine
from shared.settings import Settings
from tests.capture.leads_helpers import LEAD, count_rows, sql
from tests.helpers import auth, reading, running, wait_for

pytestmark = pytest.mark.asyncio

GRACE = {"email": "grace@example.com", "consent": {"given": True}}


async def capture(client: httpx.AsyncClient, key: str, lead: dict) -> str:
    answer = await client.post("/v1/leads", json=lead, headers=auth(key))
    assert answer.status_code == 202, answer.text
    return answer.json()["lead_id"]


def payloads(records) -> list[tuple[str, str]]:
    events = [json.loads(record.value) for record in records]
    return [(e["lead_id"], e["payload"]["activity_type"]) for e in events]


async def test_one_activity_is_recorded_on_lead_activity(settings: Settings, api_keys):
    key = api_keys["marketing"]
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.activity.v1")) as activities,
    ):
        lead_id = await capture(client, key, LEAD)
        answer = await client.post(
            "/v1/activities",
            headers=auth(key),
            json={
                "lead_id": lead_id,
                "activity_type": "content_download",
                "happened_at": "2026-03-01T09:30:00+01:00",
                "properties": {"asset": "whitepaper.pdf", "campaign": "launch", "page": 3},
            },
        )
        [record] = await activities.wait_for_count(1)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "accepted": 1,
        "results": [{"index": 0, "lead_id": lead_id, "status": "accepted"}],
    }
    assert record.key == lead_id.encode()
    event_ = json.loads(record.value)
    assert (event_["event_type"], event_["correlation_id"]) == ("lead.activity", lead_id)
    assert event_["payload"] == {
        "activity_type": "content_download",
        "happened_at": "2026-03-01T08:30:00Z",
        "properties": {"asset": "whitepaper.pdf", "campaign": "launch", "page": 3},
    }


async def test_a_batch_accepts_the_good_items_and_explains_each_rejection(
    settings: Settings, api_keys
):
    key = api_keys["crm"]
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.activity.v1")) as activities,
    ):
        ada, grace = await capture(client, key, LEAD), await capture(client, key, GRACE)
        gone = await capture(client, key, {"email": "gone@example.com"})
        await client.post(f"/v1/leads/{gone}/erase", headers=auth(api_keys["admin"]))
        answer = await client.post(
            "/v1/activities",
            headers=auth(key),
            json={
                "activities": [
                    {
                        "lead_id": ada,
                        "activity_type": "page_view",
                        "properties": {"url": "/pricing"},
                    },
                    {"lead_id": str(uuid.uuid4()), "activity_type": "page_view"},
                    {"email": " GRACE@Example.com ", "activity_type": "webinar_attended"},
                    {"lead_id": ada, "activity_type": "teleported"},
                    {"lead_id": ada, "activity_type": "page_view", "happened_at": soon},
                    {
                        "lead_id": ada,
                        "activity_type": "page_view",
                        "happened_at": "2026-03-01T09:30:00",
                    },
                    {"lead_id": ada, "email": "ada@example.com", "activity_type": "page_view"},
                    {"lead_id": gone, "activity_type": "email_open"},
                    {"email": "nobody@example.com", "activity_type": "email_open"},
                    {"lead_id": ada, "activity_type": "demo_request"},
                    {"lead_id": grace, "activity_type": "unsubscribe"},
                ]
            },
        )
        records = await activities.wait_for_count(4)
        await activities.assert_no_more(4)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 4
    outcome = {
        r["index"]: (r["status"], [(e["field"], e["reason"]) for e in r.get("errors", [])])
        for r in body["results"]
    }
    assert [i for i, (status, _) in outcome.items() if status == "accepted"] == [0, 2, 9, 10]
    assert outcome[1] == ("rejected", [("lead_id", "is not a known lead")])
    assert outcome[3][1][0][0] == "activity_type"
    assert outcome[4] == ("rejected", [("happened_at", "is more than 5 minutes in the future")])
    assert outcome[5][1][0][0] == "happened_at"
    assert outcome[6] == ("rejected", [("lead_id", "give exactly one of lead_id and email")])
    assert outcome[7] == ("rejected", [("lead_id", "the lead was erased")])
    assert outcome[8] == ("rejected", [("email", "is not a known lead")])
    assert [r.get("lead_id") for r in body["results"] if r["status"] == "accepted"] == [
        ada,
        grace,
        ada,
        grace,
    ]
    published = payloads(records)
    assert [a for lead, a in published if lead == ada] == ["page_view", "demo_request"]
    assert [a for lead, a in published if lead == grace] == ["webinar_attended", "unsubscribe"]


async def test_an_activity_racing_an_erasure_sees_the_erasure(settings: Settings, api_keys):
    key = api_keys["marketing"]
    async with running(create_app(settings)) as client:
        lead_id = uuid.UUID(await capture(client, key, LEAD))
        item = {"lead_id": str(lead_id), "activity_type": "page_view"}
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with engine.begin() as erasure:  # an erasure holding the lead's row lock
                await erasure.execute(LOCK_LEAD, {"id": lead_id})
                posting = asyncio.create_task(
                    client.post("/v1/activities", headers=auth(key), json=item)
                )
                await wait_for(lambda: waiting_for_a_lock(settings), message="activity waits")
                await erasure.execute(ERASE_LEAD, {"id": lead_id})
        finally:
            await engine.dispose()
        answer = await posting
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "lead_id", "reason": "the lead was erased"}]


LOCK_LEAD = text("SELECT 1 FROM capture.leads WHERE id = :id FOR UPDATE")
ERASE_LEAD = text(
    "UPDATE capture.leads SET erased_at = now(), email_identity = NULL WHERE id = :id"
)


async def waiting_for_a_lock(settings: Settings) -> bool:
    return await sql(
        settings,
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE "
        "datname = current_database() AND wait_event_type = 'Lock'",
    )


async def test_emails_of_a_whole_batch_are_resolved_in_one_query(settings: Settings, api_keys):
    key = api_keys["marketing"]
    app = create_app(settings)
    async with running(app) as client:
        await capture(client, key, LEAD)
        await capture(client, key, GRACE)
        lookups = []
        engine = app.state.runtime.engine.sync_engine
        event.listen(
            engine,
            "before_cursor_execute",
            lambda *args: lookups.append(args[2]) if "FROM capture.leads" in args[2] else None,
        )
        batch = [
            {"email": email, "activity_type": "email_open"}
            for email in ["ada.lovelace@example.com", "grace@example.com"] * 50
        ]
        answer = await client.post("/v1/activities", json={"activities": batch}, headers=auth(key))
    assert answer.json()["accepted"] == 100
    assert len(lookups) == 1


async def test_more_than_1000_items_are_refused_whole(settings: Settings, api_keys):
    key = api_keys["marketing"]
    async with running(create_app(settings)) as client:
        lead_id = await capture(client, key, LEAD)
        item = {"lead_id": lead_id, "activity_type": "page_view"}
        at_limit = await client.post(
            "/v1/activities", json={"activities": [item] * 1000}, headers=auth(key)
        )
        over = await client.post(
            "/v1/activities", json={"activities": [item] * 1001}, headers=auth(key)
        )
    assert at_limit.json()["accepted"] == 1000
    assert over.status_code == 422
    assert [e["field"] for e in over.json()["errors"]] == ["activities"]
    assert await count_rows(settings, "outbox") == 1 + 1000


async def test_nothing_is_written_when_no_item_is_valid(settings: Settings, api_keys):
    key = api_keys["marketing"]
    async with running(create_app(settings)) as client:
        lead_id = await capture(client, key, LEAD)
        batch = await client.post(
            "/v1/activities",
            headers=auth(key),
            json={
                "activities": [
                    {"lead_id": lead_id, "activity_type": "dancing"},
                    {"email": "not-an-email", "activity_type": "page_view"},
                ]
            },
        )
        single = await client.post(
            "/v1/activities",
            headers=auth(key),
            json={"lead_id": str(uuid.uuid4()), "activity_type": "page_view"},
        )
        shapeless = await client.post("/v1/activities", headers=auth(key), json=[1, 2])
    assert batch.status_code == single.status_code == shapeless.status_code == 422
    assert [e["field"] for e in batch.json()["errors"]] == [
        "activities.0.activity_type",
        "activities.1.email",
    ]
    assert single.json()["errors"] == [{"field": "lead_id", "reason": "is not a known lead"}]
    assert [e["field"] for e in shapeless.json()["errors"]] == ["body"]
    assert await count_rows(settings, "outbox") == 1


async def test_activities_need_a_marketing_or_crm_key(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        lead_id = await capture(client, api_keys["marketing"], LEAD)
        item = {"lead_id": lead_id, "activity_type": "page_view"}
        sales = await client.post("/v1/activities", json=item, headers=auth(api_keys["sales"]))
        none = await client.post("/v1/activities", json=item)
    assert (sales.status_code, none.status_code) == (403, 401)
    assert await count_rows(settings, "outbox") == 1


async def test_items_the_broker_could_not_take_or_that_are_not_text_are_rejected_alone(
    settings: Settings, api_keys
):
    key = api_keys["marketing"]
    async with running(create_app(settings)) as client:
        lead_id = await capture(client, key, LEAD)
        page_view = {"lead_id": lead_id, "activity_type": "page_view"}
        batch = {
            "activities": [
                page_view | {"properties": {"blob": "x" * 1_200_000}},
                page_view | {"properties": {"note": "\ud800"}},  # sent as the JSON escape \ud800
                page_view | {"happened_at": "0001-01-01T00:00:00+01:00"},
                page_view,
            ]
        }
        answer = await client.post(
            "/v1/activities",
            content=json.dumps(batch),
            headers=auth(key) | {"Content-Type": "application/json"},
        )
    assert answer.status_code == 202, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "accepted"]
    assert [[e["field"] for e in r["errors"]] for r in results[:3]] == [
        ["properties"],
        ["properties"],
        ["happened_at"],
    ]
    assert "at most 16384" in results[0]["errors"][0]["reason"]
    assert await count_rows(settings, "outbox") == 1 + 1


async def test_a_batch_with_fields_besides_activities_is_refused(settings: Settings, api_keys):
    key = api_keys["marketing"]
    async with running(create_app(settings)) as client:
        lead_id = await capture(client, key, LEAD)
        answer = await client.post(
            "/v1/activities",
            headers=auth(key),
            json={"activities": [{"lead_id": lead_id, "activity_type": "page_view"}], "bogus": 1},
        )
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["bogus"]
    assert await count_rows(settings, "outbox") == 1
