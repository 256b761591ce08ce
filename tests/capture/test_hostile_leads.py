"""Hostile input (issue 9): national phones, back-dated consent, what an erasure removes."""

from __future__ import annotations

import json

import pytest

from services.capture.app import create_app
from tests.capture.forms_helpers import FILLED, SUBMIT, capture, captured_topic, fields_of, written
from tests.capture.leads_helpers import LEAD, count_rows
from tests.helpers import auth, running

pytestmark = pytest.mark.asyncio


# ---- 5: national phone numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "country, phone, e164",
    [("FR", "06 12 34 56 78", "+33612345678"), ("US", "(415) 555-0132", "+14155550132")],
)
async def test_a_national_phone_number_is_read_in_the_submissions_country(
    settings, api_keys, country, phone, e164
):
    async with capture(settings, api_keys, default_region=None) as client:
        answer = await client.post(
            SUBMIT,
            data={"work_email": "a@example.fr", "org": "AE", "agree": "on"}
            | {"country": country, "tel": phone},
        )
        api = await client.post(
            "/v1/leads",
            json={"email": "b@example.fr", "country": country, "phone": phone},
            headers=auth(api_keys["marketing"]),
        )
        leads = [
            await client.get(
                f"/v1/leads/{a.json()['lead_id']}", headers=auth(api_keys["marketing"])
            )
            for a in (answer, api)
        ]

    assert (answer.status_code, api.status_code) == (202, 202), (answer.text, api.text)
    assert [lead.json()["contact"]["phone"] for lead in leads] == [e164, e164]


UNREADABLE_PHONES = ["06 12 34 56 78", "call me after 5pm", "+999 123"]


@pytest.mark.parametrize("phone", UNREADABLE_PHONES)
async def test_a_phone_that_cannot_be_read_is_kept_as_typed_and_flagged_unverified(
    settings, api_keys, phone
):
    """No country, no form region: the person is kept, the phone as typed, flagged."""
    async with (
        capture(settings, api_keys, default_region=None) as client,
        captured_topic(settings) as topic,
    ):
        answer = await client.post(SUBMIT, data=FILLED | {"tel": f"  {phone} "})
        [record] = await topic.wait_for_count(1)
        lead = await client.get(
            f"/v1/leads/{answer.json()['lead_id']}", headers=auth(api_keys["marketing"])
        )

    assert answer.status_code == 202, answer.text
    contact = json.loads(record.value)["payload"]["contact"]
    assert (contact["phone"], contact["phone_verified"]) == (phone, False)
    assert (lead.json()["contact"]["phone"], lead.json()["contact"]["phone_verified"]) == (
        phone,
        False,
    )


async def test_a_form_that_requires_a_valid_phone_refuses_one_naming_its_field(settings, api_keys):
    async with capture(settings, api_keys, default_region=None, require_valid_phone=True) as client:
        refused = await client.post(SUBMIT, data=FILLED | {"tel": "06 12 34 56 78"})
        readable = await client.post(SUBMIT, data=FILLED | {"tel": "+33 6 12 34 56 78"})
    leads, _ = await written(settings)

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [{"field": "tel", "reason": "add the country code"}]
    assert (readable.status_code, leads) == (202, 1)


async def test_a_verified_phone_replaces_an_unverified_one_and_an_absent_one_keeps_it(
    settings, api_keys
):
    async with capture(settings, api_keys, default_region=None) as client:
        first = await client.post(SUBMIT, data=FILLED | {"tel": "06 12 34 56 78"})
        await client.post(SUBMIT, data={k: v for k, v in FILLED.items() if k != "tel"})
        kept = await client.get(
            f"/v1/leads/{first.json()['lead_id']}", headers=auth(api_keys["marketing"])
        )
        await client.post(SUBMIT, data=FILLED | {"tel": "+33 6 12 34 56 78"})
        verified = await client.get(
            f"/v1/leads/{first.json()['lead_id']}", headers=auth(api_keys["marketing"])
        )

    assert [kept.json()["contact"][k] for k in ("phone", "phone_verified")] == [
        "06 12 34 56 78",
        False,
    ]
    assert [verified.json()["contact"][k] for k in ("phone", "phone_verified")] == [
        "+33612345678",
        True,
    ]


# ---- 7: back-dated consent ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "given_at", ["0001-01-01T00:00:00Z", 0, "2018-05-24T23:59:59Z", "2999-01-01T00:00:00Z"]
)
async def test_consent_dated_before_it_could_be_given_or_in_the_future_gets_422(
    settings, api_keys, given_at
):
    lead = LEAD | {"consent": {"given": True, "given_at": given_at}}
    async with running(create_app(settings)) as client:
        answer = await client.post("/v1/leads", json=lead, headers=auth(api_keys["marketing"]))

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == ["consent.given_at"]
    assert await count_rows(settings, "leads") == 0


async def test_consent_dated_within_the_bounds_is_kept(settings, api_keys):
    lead = LEAD | {"consent": {"given": True, "given_at": "2018-05-25T00:00:00Z"}}
    async with running(create_app(settings)) as client:
        answer = await client.post("/v1/leads", json=lead, headers=auth(api_keys["marketing"]))

    assert answer.status_code == 202, answer.text


# ---- 8: idempotency records outlive no erasure --------------------------------------------------


async def test_an_erasure_removes_the_persons_idempotency_records(settings, api_keys):
    headers = auth(api_keys["marketing"]) | {"Idempotency-Key": "order-9"}
    other = auth(api_keys["marketing"]) | {"Idempotency-Key": "order-10"}
    async with running(create_app(settings)) as client:
        first = await client.post("/v1/leads", json=LEAD, headers=headers)
        kept = await client.post(
            "/v1/leads", json=LEAD | {"email": "grace@example.com"}, headers=other
        )
        erased_id = first.json()["lead_id"]
        await client.post(f"/v1/leads/{erased_id}/erase", headers=auth(api_keys["marketing"]))
        replay = await client.post("/v1/leads", json=LEAD, headers=headers)

    assert (first.status_code, kept.status_code, replay.status_code) == (202, 202, 202)
    assert replay.json()["lead_id"] != erased_id, "a replay is never told the erased lead's id"
    assert "Idempotent-Replayed" not in replay.headers
    assert (
        await count_rows(
            settings, "idempotent_requests", "response->>'lead_id' = :id", id=erased_id
        )
        == 0
    )
    assert await count_rows(settings, "idempotent_requests") == 2  # the other person's and the new
