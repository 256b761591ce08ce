"""Consent once given is kept: a later submission without consent, through the lead API or a
form, merges into the lead but leaves its consent (given, given_at, text_version) as it was, in
the lead and in the merged `lead.captured.v1`."""

from __future__ import annotations

import json

import httpx
import pytest

from services.capture.app import create_app
from shared.settings import Settings
from tests.helpers import auth, reading, running

pytestmark = pytest.mark.asyncio

FORM = {
    "name": "Consent form",
    "field_mapping": {"work_email": "email", "agree": "consent"},
    "required_fields": ["email"],
    "allowed_origins": ["https://www.example.com"],
    "consent_required": False,
    "consent_text": "Consent Ltd may email me.",
    "consent_version": "form-v2",
}
SUBMIT = "/v1/forms/consent/submissions"
GIVEN_AT = "2026-01-02T03:04:05Z"


async def define_form(client: httpx.AsyncClient, api_keys: dict[str, str]) -> None:
    answer = await client.put("/v1/forms/consent", json=FORM, headers=auth(api_keys["admin"]))
    assert answer.status_code == 201, answer.text


def consent_of(event_or_lead: dict) -> tuple:
    consent = event_or_lead["consent"]
    return consent["given"], consent.get("given_at"), consent.get("text_version")


@pytest.mark.parametrize("later", ["api", "form"])
@pytest.mark.parametrize("first", ["api", "form"])
async def test_a_later_submission_without_consent_keeps_the_consent_given(
    settings: Settings, api_keys, first: str, later: str
):
    key = auth(api_keys["marketing"])
    email = "consenting@example.com"
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1")) as captured,
    ):
        await define_form(client, api_keys)
        if first == "api":
            given = await client.post(
                "/v1/leads",
                json={
                    "email": email,
                    "consent": {"given": True, "text_version": "api-v1", "given_at": GIVEN_AT},
                },
                headers=key,
            )
        else:
            given = await client.post(SUBMIT, data={"work_email": email, "agree": "on"})
        assert given.status_code == 202, given.text
        if later == "api":
            without = await client.post(
                "/v1/leads", json={"email": email, "consent": {"given": False}}, headers=key
            )
        else:
            without = await client.post(SUBMIT, data={"work_email": email})
        assert without.status_code == 202, without.text
        assert without.json() == {"lead_id": given.json()["lead_id"], "merged": True}
        records = await captured.wait_for_count(2)
        lead = (await client.get(f"/v1/leads/{given.json()['lead_id']}", headers=key)).json()

    created, merged = (
        json.loads(r.value)["payload"] for r in sorted(records, key=lambda r: r.offset)
    )
    assert (created["merged"], merged["merged"]) == (False, True)
    kept = consent_of(created)
    assert kept[0] is True and kept[1] is not None
    assert kept[2] == ("api-v1" if first == "api" else "form-v2")
    if first == "api":
        assert kept[1].replace("+00:00", "Z") == GIVEN_AT
    assert consent_of(merged) == kept, "the merged event lost the consent"
    assert consent_of(lead) == kept, "the lead lost the consent"
