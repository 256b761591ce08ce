"""Idempotency-Key on POST /v1/leads: a retry gets the first answer and writes nothing again."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.capture.app import create_app
from shared.settings import Settings
from tests.capture.leads_helpers import LEAD, count_rows, sql
from tests.helpers import auth, reading, running

pytestmark = pytest.mark.asyncio


def keyed(api_key: str, idempotency_key: str) -> dict[str, str]:
    return auth(api_key) | {"Idempotency-Key": idempotency_key}


async def test_a_retry_gets_the_same_answer_and_no_second_event(settings: Settings, api_keys):
    headers = keyed(api_keys["marketing"], "order-42")
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1")) as captured,
    ):
        first = await client.post("/v1/leads", json=LEAD, headers=headers)
        retry = await client.post("/v1/leads", json=LEAD, headers=headers)
        await captured.wait_for_count(1)
        await captured.assert_no_more(1)
    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json() == {"lead_id": first.json()["lead_id"], "merged": False}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await count_rows(settings, "leads") == 1


async def test_the_same_key_with_another_body_gets_409_naming_the_header(
    settings: Settings, api_keys
):
    headers = keyed(api_keys["crm"], "sync-7")
    async with running(create_app(settings)) as client:
        first = await client.post("/v1/leads", json=LEAD, headers=headers)
        other = await client.post(
            "/v1/leads", json={**LEAD, "job_title": "Countess"}, headers=headers
        )
    assert first.status_code == 202
    assert other.status_code == 409
    assert [e["field"] for e in other.json()["errors"]] == ["Idempotency-Key"]
    assert await count_rows(settings, "outbox") == 1
    assert await count_rows(settings, "lead_changes") == 0


async def test_keys_of_different_api_keys_are_independent(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        first = await client.post("/v1/leads", json=LEAD, headers=keyed(api_keys["marketing"], "k"))
        second = await client.post(
            "/v1/leads", json={**LEAD, "job_title": "Countess"}, headers=keyed(api_keys["crm"], "k")
        )
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {"lead_id": first.json()["lead_id"], "merged": True}
    assert await count_rows(settings, "outbox") == 2


async def test_concurrent_duplicates_write_once(settings: Settings, api_keys):
    headers = keyed(api_keys["marketing"], "burst")
    async with running(create_app(settings)) as client:
        answers = await asyncio.gather(
            *[client.post("/v1/leads", json=LEAD, headers=headers) for _ in range(8)]
        )
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert len({a.json()["lead_id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 7
    assert await count_rows(settings, "outbox") == 1
    assert await count_rows(settings, "lead_changes") == 0


async def test_an_answer_older_than_24_hours_is_forgotten(settings: Settings, api_keys):
    headers = keyed(api_keys["marketing"], "old")
    async with running(create_app(settings)) as client:
        await client.post("/v1/leads", json=LEAD, headers=headers)
        await sql(
            settings,
            "UPDATE capture.idempotent_requests SET created_at = now() - interval '25 hours'",
        )
        again = await client.post(
            "/v1/leads", json={**LEAD, "job_title": "Countess"}, headers=headers
        )
    assert again.status_code == 202
    assert again.json()["merged"] is True
    assert await count_rows(settings, "outbox") == 2
    assert (
        await count_rows(settings, "idempotent_requests", "created_at > now() - interval '1 hour'")
        == 1
    )


async def test_a_new_claim_prunes_expired_answers(settings: Settings, api_keys):
    await sql(
        settings,
        "INSERT INTO capture.idempotent_requests (api_key_id, idempotency_key, "
        "request_hash, status_code, response, created_at) VALUES "
        "(:key_id, 'ancient', 'x', 202, '{}', now() - interval '2 days')",
        key_id=uuid.uuid4(),
    )
    async with running(create_app(settings)) as client:
        await client.post("/v1/leads", json=LEAD, headers=keyed(api_keys["marketing"], "fresh"))
    assert await count_rows(settings, "idempotent_requests", "idempotency_key = 'ancient'") == 0
    assert await count_rows(settings, "idempotent_requests", "idempotency_key = 'fresh'") == 1


async def test_an_overlong_key_gets_422_naming_the_header(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/leads", json=LEAD, headers=keyed(api_keys["marketing"], "x" * 201)
        )
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["Idempotency-Key"]
    assert await count_rows(settings, "leads") == 0


async def test_a_rejected_lead_does_not_use_up_its_key(settings: Settings, api_keys):
    headers = keyed(api_keys["marketing"], "typo")
    async with running(create_app(settings)) as client:
        rejected = await client.post("/v1/leads", json={**LEAD, "phone": "12"}, headers=headers)
        fixed = await client.post("/v1/leads", json=LEAD, headers=headers)
    assert (rejected.status_code, fixed.status_code) == (422, 202)
    assert "Idempotent-Replayed" not in fixed.headers
    assert await count_rows(settings, "idempotent_requests") == 1


async def test_the_key_is_documented_on_the_operation(settings: Settings) -> None:
    """Read by `key_of`, not by FastAPI: the operation still names the header and its limits."""
    operation = create_app(settings).openapi()["paths"]["/v1/leads"]["post"]
    (parameter,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert parameter["name"] == "Idempotency-Key" and parameter["required"] is False
    assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": 200}
