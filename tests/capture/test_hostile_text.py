"""Hostile input (issue 9): control characters, and bytes that are not text."""

from __future__ import annotations

import json

import pytest

from services.capture.app import create_app
from tests.capture.forms_helpers import FORM, SUBMIT, capture, fields_of, written
from tests.capture.leads_helpers import JSON, LEAD, count_rows
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


# ---- 4: bytes that are not text -----------------------------------------------------------------

URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}
FILLED_BODY = "fname=Ada&org=Analytical+Engines&agree=on"


@pytest.mark.parametrize(
    "body, headers",
    [
        (f"{FILLED_BODY}&work_email=b%FE%40example.org".encode(), URLENCODED),
        (FILLED_BODY.encode() + b"&work_email=\xff\xfe@x.org", URLENCODED),
        (
            b"--b\r\nContent-Disposition: form-data; name=work_email\r\n\r\n\xff\xfe@x.org\r\n"
            b"--b\r\nContent-Disposition: form-data; name=org\r\n\r\nAE\r\n"
            b"--b\r\nContent-Disposition: form-data; name=agree\r\n\r\non\r\n--b--\r\n",
            {"Content-Type": "multipart/form-data; boundary=b"},
        ),
    ],
    ids=["percent-encoded", "raw-urlencoded", "raw-multipart"],
)
async def test_bytes_that_are_not_utf8_get_422_naming_the_field(settings, api_keys, body, headers):
    async with capture(settings, api_keys) as client:
        answer = await client.post(SUBMIT, content=body, headers=headers)

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == ["work_email"]
    assert await written(settings) == (0, 0)


async def test_two_undecodable_addresses_never_become_one_lead(settings, api_keys):
    async with capture(settings, api_keys) as client:
        for byte in ("%FE", "%FF"):
            await client.post(
                SUBMIT,
                content=f"{FILLED_BODY}&work_email=b{byte}%40example.org",
                headers=URLENCODED,
            )
        valid = await client.post(
            SUBMIT, content=f"{FILLED_BODY}&work_email=b%C3%A9%40example.org", headers=URLENCODED
        )

    assert valid.status_code == 202, valid.text
    assert await count_rows(settings, "leads") == 1


async def test_a_body_in_its_declared_charset_is_decoded_with_it(settings, api_keys):
    async with capture(settings, api_keys) as client:
        answer = await client.post(
            SUBMIT,
            content=f"{FILLED_BODY}&fname=Ren%E9e&work_email=renee%40example.org",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"},
        )
        lead = await client.get(
            f"/v1/leads/{answer.json()['lead_id']}", headers=auth(api_keys["marketing"])
        )

    assert answer.status_code == 202, answer.text
    assert lead.json()["contact"]["first_name"] == "Renée"
