"""Erasing a lead: its data leaves capture and lead.erased.v1 tells the other services."""

from __future__ import annotations

import json
import uuid

import pytest

from services.capture.app import create_app
from shared.outbox import decode_headers
from shared.settings import Settings
from tests.capture.leads_helpers import LEAD, count_rows, sql
from tests.helpers import auth, reading, running, wait_for

pytestmark = pytest.mark.asyncio


async def test_erasure_empties_the_lead_drops_its_history_and_emits_lead_erased(
    settings: Settings, api_keys
):
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.erased.v1")) as erased,
    ):
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        await client.post(
            "/v1/leads", json={**LEAD, "job_title": "Countess"}, headers=auth(api_keys["crm"])
        )
        answer = await client.post(
            f"/v1/leads/{lead_id}/erase",
            json={"reason": "asked by Ada"},
            headers=auth(api_keys["marketing"]),
        )
        [record] = await erased.wait_for_count(1)
    assert answer.status_code == 202
    assert answer.json() == {"lead_id": lead_id, "erased": True}
    assert record.key == lead_id.encode()
    event = json.loads(record.value)
    assert (event["event_type"], event["lead_id"], event["correlation_id"]) == (
        "lead.erased",
        lead_id,
        lead_id,
    )
    assert event["payload"] == {"requested_by": "test marketing", "reason": "asked by Ada"}
    assert await count_rows(settings, "lead_changes") == 0
    assert (
        await count_rows(
            settings,
            "leads",
            "id = :id AND email_identity IS NULL AND erased_at IS NOT NULL AND "
            "contact = '{}' AND consent = '{}' AND first_touch = '{}' AND last_touch = '{}'",
            id=uuid.UUID(lead_id),
        )
        == 1
    )


async def test_a_second_erasure_answers_the_same_without_a_second_event(
    settings: Settings, api_keys
):
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.erased.v1")) as erased,
    ):
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        first = await client.post(f"/v1/leads/{lead_id}/erase", headers=auth(api_keys["admin"]))
        second = await client.post(f"/v1/leads/{lead_id}/erase", headers=auth(api_keys["admin"]))
        await erased.wait_for_count(1)
        await erased.assert_no_more(1)
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json() == {"lead_id": lead_id, "erased": True}
    assert json.loads(erased.records[0].value)["payload"] == {"requested_by": "test admin"}


async def test_the_same_email_comes_back_as_a_new_lead(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        old = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        await client.post(f"/v1/leads/{old}/erase", headers=auth(api_keys["marketing"]))
        again = await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
    assert again.status_code == 202
    assert again.json()["merged"] is False
    assert again.json()["lead_id"] != old
    assert await count_rows(settings, "leads", "email_identity IS NOT NULL") == 1


async def test_published_events_of_the_lead_leave_the_outbox(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        key = lead_id.encode()
        await wait_for(
            lambda: count_rows(settings, "outbox", "key = :key AND sent_at IS NOT NULL", key=key),
            message="lead.captured published",
        )
        await client.post(f"/v1/leads/{lead_id}/erase", headers=auth(api_keys["marketing"]))
    assert await count_rows(settings, "outbox", "key = :key", key=key) == 1
    headers = await sql(settings, "SELECT headers FROM capture.outbox WHERE key = :key", key=key)
    assert decode_headers(headers)[0] == ("event_type", b"lead.erased")


async def test_erasure_refuses_unknown_leads_wrong_roles_and_bad_bodies(
    settings: Settings, api_keys
):
    async with running(create_app(settings)) as client:
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        unknown = await client.post(
            f"/v1/leads/{uuid.uuid4()}/erase", headers=auth(api_keys["marketing"])
        )
        malformed = await client.post("/v1/leads/42/erase", headers=auth(api_keys["marketing"]))
        extra = await client.post(
            f"/v1/leads/{lead_id}/erase", json={"why": "x"}, headers=auth(api_keys["marketing"])
        )
        by_role = {
            role: (
                await client.post(f"/v1/leads/{lead_id}/erase", headers=auth(api_keys[role]))
            ).status_code
            for role in ("crm", "sales")
        }
    assert unknown.status_code == 404
    assert unknown.json()["errors"] == [{"field": "lead_id", "reason": "is not a known lead"}]
    assert malformed.status_code == 422
    assert [e["field"] for e in malformed.json()["errors"]] == ["lead_id"]
    assert extra.status_code == 422
    assert [e["field"] for e in extra.json()["errors"]] == ["why"]
    assert by_role == {"crm": 403, "sales": 403}
    assert await count_rows(settings, "leads", "erased_at IS NULL") == 1
