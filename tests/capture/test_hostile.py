"""Capture under hostile and foreign input (issue 9): each reproduction that once got through."""

from __future__ import annotations

import json

import pytest

from services.capture.app import create_app
from tests.capture.test_api import JSON, LEAD, count_rows
from tests.capture.test_forms import FORM, fields_of
from tests.helpers import auth, running

pytestmark = pytest.mark.asyncio


# ---- 1: control characters in every text that reaches the database ----------------------------


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"thank_you_url": "https://example.com/\u0000"}, "thank_you_url"),
        ({"error_url": "https://example.com/\u001b[8m"}, "error_url"),
        ({"allowed_origins": ["https://example.com\u0000"]}, "allowed_origins.0"),
        ({"allowed_origins": ["https://exa\ud800mple.com"]}, "allowed_origins.0"),
    ],
    ids=["nul-thank-you", "escape-error-url", "nul-origin", "surrogate-origin"],
)
async def test_control_characters_in_a_forms_urls_get_422_not_500(
    settings, api_keys, changes, field
):
    async with running(create_app(settings)) as client:
        answer = await client.put(  # escaped as JSON sends it: httpx cannot encode a surrogate
            "/v1/forms/nul-a",
            content=json.dumps(FORM | changes),
            headers=auth(api_keys["admin"]) | JSON,
        )
        listed = await client.get("/v1/forms", headers=auth(api_keys["admin"]))

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == [field]
    assert listed.json() == {"forms": []}


async def test_a_nul_in_an_erasure_reason_gets_422_and_erases_nothing(settings, api_keys):
    async with running(create_app(settings)) as client:
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        answer = await client.post(
            f"/v1/leads/{lead_id}/erase",
            json={"reason": "asked\u0000"},
            headers=auth(api_keys["marketing"]),
        )

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == ["reason"]
    assert await count_rows(settings, "leads", "erased_at IS NULL") == 1
