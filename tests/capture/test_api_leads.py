"""Capture's lead API against the real database and broker: posting, merging, reading, refusing."""

from __future__ import annotations

import json
import uuid

import pytest

from services.capture.app import create_app
from shared.settings import Settings
from tests.capture.leads_helpers import JSON, LEAD, count_rows
from tests.helpers import auth, reading, running

pytestmark = pytest.mark.asyncio


async def test_a_posted_lead_appears_on_lead_captured(settings: Settings, api_keys):
    topic = settings.topic("lead.captured.v1")
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, topic) as captured,
    ):
        answer = await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["lead_id"]
        assert answer.json()["merged"] is False
        [record] = await captured.wait_for_count(1)
    assert record.key == lead_id.encode()
    event = json.loads(record.value)
    assert event["event_type"] == "lead.captured" and event["producer"] == "capture"
    assert event["lead_id"] == event["correlation_id"] == lead_id
    contact = event["payload"]["contact"]
    assert contact["email"] == "Ada.Lovelace@example.com"
    assert (contact["country"], contact["phone"]) == ("GB", "+442071234567")
    assert event["payload"]["consent"]["given"] is True
    assert event["payload"]["first_touch"]["utm_campaign"] == "launch"


async def test_a_new_lead_wakes_the_relay_at_once_instead_of_its_slow_poll(
    settings: Settings, api_keys
):
    """The lead and its event are one statement committed on its own, outside any session: the
    relay must still hear of it."""
    settings = settings.model_copy(update={"outbox_poll_interval_s": 60.0})
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1")) as captured,
    ):
        for n, email in enumerate(("first@example.com", "second@example.com"), start=1):
            answer = await client.post(
                "/v1/leads", json=LEAD | {"email": email}, headers=auth(api_keys["marketing"])
            )
            assert answer.status_code == 202, answer.text
            await captured.wait_for_count(n, timeout_s=10)  # well inside the 60 s poll


async def test_a_second_submission_merges_into_the_same_lead(settings: Settings, api_keys):
    topic = settings.topic("lead.captured.v1")
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, topic) as captured,
    ):
        first = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()
        again = {
            **LEAD,
            "email": "ada.lovelace@example.com",
            "job_title": "Countess",
            "attribution": {"utm_source": "webinar"},
        }
        second = (await client.post("/v1/leads", json=again, headers=auth(api_keys["crm"]))).json()
        records = await captured.wait_for_count(2)
    assert second == {"lead_id": first["lead_id"], "merged": True}
    merged = json.loads(records[-1].value)["payload"]
    assert merged["merged"] is True
    assert merged["contact"]["job_title"] == "Countess"
    assert merged["contact"]["first_name"] == "Ada"
    assert merged["first_touch"]["utm_source"] == "newsletter"
    assert merged["last_touch"]["utm_source"] == "webinar"
    assert await count_rows(settings, "leads") == 1
    assert await count_rows(settings, "lead_changes") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "phone": "12"}, "phone"),
        ({"email": "a@example.com", "country": "Atlantis"}, "country"),
        ({"email": "a@example.com", "unknown": "x"}, "unknown"),
        ({"first_name": "Ada"}, "email"),
    ],
)
async def test_invalid_leads_get_422_naming_the_field_and_nothing_is_written(
    settings: Settings, api_keys, body: dict, field: str
):
    async with running(create_app(settings)) as client:
        answer = await client.post("/v1/leads", json=body, headers=auth(api_keys["marketing"]))
    assert answer.status_code == 422
    problems = answer.json()["errors"]
    assert field in [p["field"] for p in problems], problems
    assert all(p["reason"] for p in problems)
    assert await count_rows(settings, "leads") == 0
    assert await count_rows(settings, "outbox") == 0


async def test_the_lead_api_needs_a_key_of_a_role_that_may_capture(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        none = await client.post("/v1/leads", json=LEAD)
        unknown = await client.post("/v1/leads", json=LEAD, headers=auth("hk_not-a-key"))
        sales = await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["sales"]))
        header = await client.post("/v1/leads", json=LEAD, headers={"X-API-Key": api_keys["admin"]})
    assert (none.status_code, unknown.status_code, sales.status_code) == (401, 401, 403)
    assert none.json()["detail"] == "an API key is required"
    assert "sales key may not" in sales.json()["detail"]
    assert header.status_code == 202
    assert await count_rows(settings, "leads") == 1


async def test_a_lead_is_read_back_with_its_merge_history(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        await client.post(
            "/v1/leads",
            json={**LEAD, "job_title": "Countess", "attribution": {"utm_source": "webinar"}},
            headers=auth(api_keys["crm"]),
        )
        answer = await client.get(f"/v1/leads/{lead_id}", headers=auth(api_keys["sales"]))
    assert answer.status_code == 200, answer.text
    lead = answer.json()
    assert lead["lead_id"] == lead_id
    assert lead["contact"]["email"] == "Ada.Lovelace@example.com"
    assert lead["contact"]["job_title"] == "Countess"
    assert lead["consent"]["given"] is True and lead["consent"]["source"] == "api"
    assert lead["first_touch"]["utm_source"] == "newsletter"
    assert lead["last_touch"]["utm_source"] == "webinar"
    assert lead["updated_at"] >= lead["created_at"]
    [change] = lead["history"]
    assert change["source"] == "api"
    assert change["changes"] == {"job_title": [None, "Countess"]}


async def test_reading_an_unknown_or_malformed_lead_id_names_lead_id(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        unknown = await client.get(f"/v1/leads/{uuid.uuid4()}", headers=auth(api_keys["crm"]))
        malformed = await client.get("/v1/leads/not-a-uuid", headers=auth(api_keys["crm"]))
        anonymous = await client.get(f"/v1/leads/{uuid.uuid4()}")
    assert (unknown.status_code, malformed.status_code, anonymous.status_code) == (404, 422, 401)
    assert unknown.json()["errors"] == [{"field": "lead_id", "reason": "is not a known lead"}]
    assert [e["field"] for e in malformed.json()["errors"]] == ["lead_id"]


async def test_an_erased_lead_answers_410(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        await client.post(f"/v1/leads/{lead_id}/erase", headers=auth(api_keys["marketing"]))
        answer = await client.get(f"/v1/leads/{lead_id}", headers=auth(api_keys["marketing"]))
    assert answer.status_code == 410
    assert "was erased" in answer.json()["detail"]
    assert answer.json()["errors"][0]["field"] == "lead_id"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"attribution": {"utm_source": "a\u0000b"}}, "attribution.utm_source"),
        ({"attribution": {"utm_source": "  \u0007bell  "}}, "attribution.utm_source"),
        (
            {"attribution": {"landing_page": "https://x.example/" + "x" * 2048}},
            "attribution.landing_page",
        ),
        ({"consent": {"given": True, "text_version": "\u001b[31m"}}, "consent.text_version"),
        ({"consent": {"given": True, "given_at": "2999-01-01T00:00:00Z"}}, "consent.given_at"),
        ({"first_name": "\ud800"}, "first_name"),
    ],
    ids=[
        "nul",
        "control-character",
        "over-long-url",
        "escape-sequence",
        "future-consent",
        "lone-surrogate",
    ],
)
async def test_text_that_capture_would_not_store_gets_422_naming_it(
    settings: Settings, api_keys, change, field
):
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/leads",
            content=json.dumps(LEAD | change),  # \u escapes
            headers=auth(api_keys["marketing"]) | JSON,
        )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert await count_rows(settings, "leads") == 0


async def test_sent_attribution_is_stored_clean_and_consent_not_given_has_no_time(
    settings: Settings, api_keys
):
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/leads",
            headers=auth(api_keys["marketing"]),
            json=LEAD
            | {
                "attribution": {"utm_source": "  news   letter ", "utm_medium": "   "},
                "consent": {"given": False, "given_at": "2026-01-01T00:00:00Z"},
            },
        )
        stored = await client.get(
            f"/v1/leads/{answer.json()['lead_id']}", headers=auth(api_keys["marketing"])
        )
    lead = stored.json()
    assert lead["first_touch"]["utm_source"] == "news letter"
    assert "utm_medium" not in lead["first_touch"] or lead["first_touch"]["utm_medium"] is None
    assert lead["consent"]["given"] is False and lead["consent"]["given_at"] is None
