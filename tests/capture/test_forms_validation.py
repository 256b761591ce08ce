"""Form submissions refused with each problem named: bad fields, other body types, hostile text."""

from __future__ import annotations

import json

import pytest

from tests.capture.forms_helpers import FILLED, SUBMIT, capture, captured_topic, fields_of, written

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": FILLED | {"work_email": "ada@"}}, "work_email"),
        ({"data": {k: v for k, v in FILLED.items() if k != "work_email"}}, "work_email"),
        ({"data": FILLED | {"org": " "}}, "org"),
        ({"data": FILLED | {"tel": "12"}}, "tel"),
        ({"data": FILLED | {"country": "Atlantis"}}, "country"),
        ({"data": FILLED | {"fname": "A" * 101}}, "fname"),
        ({"data": FILLED | {"language": "Elvish"}}, "language"),
        ({"data": FILLED | {"utm_source": "s" * 301}}, "utm_source"),
        ({"data": FILLED | {"agree": "off"}}, "agree"),
        ({"json": FILLED | {"agree": False}}, "agree"),
        ({"json": FILLED | {"fname": ["Ada"]}}, "fname"),
        ({"json": ["not", "an", "object"]}, "body"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "body"),
        ({"files": {"work_email": ("cv.txt", b"ada@example.com")}}, "work_email"),
    ],
)
async def test_every_invalid_submission_names_the_field_and_writes_nothing(
    settings, api_keys, body, field
):
    async with capture(settings, api_keys, require_valid_phone=True) as client:
        answer = await client.post(SUBMIT, **body)

    assert answer.status_code == 422, answer.text
    assert field in fields_of(answer)
    assert await written(settings) == (0, 0)


async def test_all_problems_are_reported_at_once_each_once(settings, api_keys):
    async with capture(settings, api_keys, require_valid_phone=True) as client:
        answer = await client.post(
            SUBMIT + "?utm_medium=" + "m" * 301,
            data={"fname": "A" * 101, "tel": "12", "country": "Atlantis"},
        )

    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "work_email", "reason": "is required"},
        {"field": "org", "reason": "is required"},
        {"field": "agree", "reason": "consent is required"},
        {"field": "fname", "reason": "is longer than 100 characters"},
        {"field": "tel", "reason": "has the wrong number of digits"},
        {"field": "country", "reason": "is not a known country (use a name or an ISO 3166 code)"},
        {"field": "utm_medium", "reason": "is longer than 300 characters"},
    ]


async def test_consent_is_optional_when_the_form_does_not_require_it(settings, api_keys):
    async with (
        capture(settings, api_keys, consent_required=False) as client,
        captured_topic(settings) as topic,
    ):
        answer = await client.post(SUBMIT, data=FILLED | {"agree": ""})
        [record] = await topic.wait_for_count(1)

    assert answer.status_code == 202
    assert json.loads(record.value)["payload"]["consent"]["given"] is False


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_other_body_types_get_415_naming_the_content_type(settings, api_keys, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    async with capture(settings, api_keys) as client:
        answer = await client.post(SUBMIT, content=b"email=ada@example.com", headers=headers)

    assert answer.status_code == 415
    assert "application/x-www-form-urlencoded" in answer.json()["detail"]
    assert fields_of(answer) == ["content-type"]
    assert await written(settings) == (0, 0)


# ---- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/forms/%00/submissions", "/v1/forms/%00/page", "/v1/forms/Not_An_Id/thank-you"]
)
async def test_a_form_id_that_cannot_be_one_gets_422_naming_it(settings, api_keys, path):
    async with capture(settings, api_keys) as client:
        answer = await (
            client.post(path, data=FILLED) if path.endswith("submissions") else client.get(path)
        )

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == ["form_id"]


@pytest.mark.parametrize(
    "body, field",
    [
        (b"[" * 60_000, "body"),
        (json.dumps(FILLED | {"fname": "\ud800"}).encode(), "fname"),
        (json.dumps(FILLED | {"utm_source": "\udfff"}).encode(), "utm_source"),
        (json.dumps(FILLED | {"org": "Analytical\u0000Engines"}).encode(), "org"),
    ],
    ids=["nested-too-deeply", "lone-surrogate-name", "lone-surrogate-utm", "nul"],
)
async def test_json_that_is_not_a_forms_text_gets_422_and_writes_nothing(
    settings, api_keys, body, field
):
    async with capture(settings, api_keys) as client:
        answer = await client.post(
            SUBMIT, content=body, headers={"Content-Type": "application/json"}
        )

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == [field]
    assert await written(settings) == (0, 0)


async def test_required_attribution_may_come_from_the_query_string_or_the_forms_defaults(
    settings, api_keys
):
    async with capture(
        settings,
        api_keys,
        required_fields=["email", "utm_campaign", "source"],
        default_source="website",
        default_campaign=None,
    ) as client:
        with_query = await client.post(SUBMIT + "?utm_campaign=spring", data=FILLED)
        without = await client.post(SUBMIT, data=FILLED | {"work_email": "b@example.com"})

    assert with_query.status_code == 202, with_query.text
    assert without.status_code == 422
    assert fields_of(without) == ["utm_campaign"]
