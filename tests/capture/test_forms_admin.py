"""The forms admin API: create, replace, list and delete, who may, bad definitions named."""

from __future__ import annotations

import pytest

from services.capture.app import create_app
from tests.capture.forms_helpers import FILLED, FORM, SUBMIT, capture, fields_of
from tests.helpers import auth, running

pytestmark = pytest.mark.asyncio


async def test_forms_are_created_replaced_listed_and_deleted(settings, api_keys):
    admin = auth(api_keys["admin"])
    async with capture(settings, api_keys) as client:
        replaced = await client.put(
            "/v1/forms/ebook", json=FORM | {"name": "Ebook v2"}, headers=admin
        )
        other = await client.put("/v1/forms/a-webinar", json=FORM, headers=admin)
        one = await client.get("/v1/forms/ebook", headers=admin)
        listed = await client.get("/v1/forms", headers=admin)
        deleted = await client.delete("/v1/forms/ebook", headers=admin)
        gone = await client.get("/v1/forms/ebook", headers=admin)
        again = await client.delete("/v1/forms/ebook", headers=admin)
        posted = await client.post(SUBMIT, data=FILLED)

    assert (replaced.status_code, other.status_code) == (200, 201)
    assert one.json() == replaced.json()
    assert one.json()["name"] == "Ebook v2" and one.json()["id"] == "ebook"
    assert one.json()["default_region"] == "GB"
    assert [form["id"] for form in listed.json()["forms"]] == ["a-webinar", "ebook"]
    assert (deleted.status_code, gone.status_code, again.status_code) == (204, 404, 404)
    assert posted.status_code == 404


async def test_the_admin_api_needs_an_admin_key(settings, api_keys):
    async with capture(settings, api_keys) as client:
        none = await client.get("/v1/forms")
        marketing = await client.put("/v1/forms/x", json=FORM, headers=auth(api_keys["marketing"]))
        crm = await client.delete("/v1/forms/ebook", headers=auth(api_keys["crm"]))

    assert (none.status_code, marketing.status_code, crm.status_code) == (401, 403, 403)


@pytest.mark.parametrize(
    ("form_id", "changes", "field"),
    [
        ("ebook", {"field_mapping": {"work_email": "e-mail"}}, "field_mapping.work_email"),
        ("ebook", {"required_fields": ["email", "salary"]}, "required_fields.1"),
        ("ebook", {"allowed_origins": ["www.example.com"]}, "allowed_origins.0"),
        ("ebook", {"allowed_origins": ["https://example.com/page"]}, "allowed_origins.0"),
        ("ebook", {"thank_you_url": "/thanks"}, "thank_you_url"),
        ("ebook", {"error_url": "javascript:alert(1)"}, "error_url"),
        ("ebook", {"default_region": "XX"}, "default_region"),
        ("ebook", {"honeypot_field": "email"}, "honeypot_field"),
        ("ebook", {"honeypot_field": "org"}, "honeypot_field"),
        ("ebook", {"consent_text": None}, "consent_text"),
        ("ebook", {"consent_version": ""}, "consent_version"),
        ("ebook", {"name": ""}, "name"),
        ("ebook", {"name": "Ebook\u0000"}, "name"),
        ("ebook", {"field_mapping": {"mail\u0000": "email"}}, "field_mapping.mail\u0000.[key]"),
        ("ebook", {"consent_text": "I agree\u001b[8m"}, "consent_text"),
        ("ebook", {"default_source": "web\u0007"}, "default_source"),
        ("ebook", {"colour": "blue"}, "colour"),
        ("Ebook_2", {}, "form_id"),
    ],
)
async def test_a_bad_form_definition_gets_422_naming_the_field(
    settings, api_keys, form_id, changes, field
):
    async with running(create_app(settings)) as client:
        answer = await client.put(
            f"/v1/forms/{form_id}", json=FORM | changes, headers=auth(api_keys["admin"])
        )
        listed = await client.get("/v1/forms", headers=auth(api_keys["admin"]))

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == [field]
    assert listed.json() == {"forms": []}
