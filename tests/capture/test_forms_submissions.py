"""Form submissions in every body type: the lead on lead.captured, UTM, redirects and pages."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.capture.forms_helpers import BROWSER, FILLED, SUBMIT, capture, captured_topic, written

pytestmark = pytest.mark.asyncio


def error_params(location: str) -> list[str]:
    return parse_qs(urlsplit(location).query)["error"]


BODIES = {
    "urlencoded": {"data": FILLED},
    "multipart": {"files": {name: (None, value) for name, value in FILLED.items()}},
    "json": {"json": FILLED | {"agree": True}},
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_each_body_type_captures_a_lead_on_lead_captured(settings, api_keys, body):
    async with capture(settings, api_keys) as client, captured_topic(settings) as topic:
        answer = await client.post(SUBMIT, **body)
        [record] = await topic.wait_for_count(1)

    assert answer.status_code == 202, answer.text
    assert answer.json()["merged"] is False
    event = json.loads(record.value)
    assert event["lead_id"] == answer.json()["lead_id"]
    payload = event["payload"]
    assert payload["contact"]["email"] == "Ada.Lovelace@example.com"
    assert (payload["contact"]["company"], payload["contact"]["phone"]) == (
        "Analytical Engines",
        "+442071234567",
    )
    assert payload["consent"]["given"] is True
    assert (payload["consent"]["text_version"], payload["consent"]["source"]) == (
        "2026-01",
        "form:ebook",
    )
    touch = payload["first_touch"]
    assert (touch["form_id"], touch["source"], touch["utm_campaign"]) == (
        "ebook",
        "website",
        "always-on",
    )


async def test_utm_comes_from_the_query_string_and_the_fields(settings, api_keys):
    query = "?utm_source=google&utm_medium=cpc&utm_campaign=winter"
    async with capture(settings, api_keys) as client, captured_topic(settings) as topic:
        first = await client.post(
            SUBMIT + query,
            data=FILLED | {"utm_campaign": "spring"},
            headers={"Referer": "https://www.example.com/ebook"},
        )
        second = await client.post(
            SUBMIT + "?utm_source=linkedin",
            data=FILLED | {"landing_page": "https://www.example.com/b"},
        )
        records = await topic.wait_for_count(2)

    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {"lead_id": first.json()["lead_id"], "merged": True}
    touch = json.loads(records[0].value)["payload"]["first_touch"]
    assert (touch["utm_source"], touch["utm_medium"], touch["utm_campaign"]) == (
        "google",
        "cpc",
        "spring",
    )
    assert touch["landing_page"] == "https://www.example.com/ebook"  # the page that posted
    assert "referrer" not in touch
    merged = json.loads(records[1].value)["payload"]
    assert merged["first_touch"]["utm_source"] == "google"
    assert (merged["last_touch"]["utm_source"], merged["last_touch"]["landing_page"]) == (
        "linkedin",
        "https://www.example.com/b",
    )


async def test_a_browser_is_sent_to_the_thank_you_page(settings, api_keys):
    async with capture(settings, api_keys) as client:
        answer = await client.post(SUBMIT, data=FILLED, headers=BROWSER)
        page = await client.get(answer.headers["location"])

    assert answer.status_code == 303
    assert answer.headers["location"] == "/v1/forms/ebook/thank-you"
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Thank you" in page.text and "Ebook download" in page.text
    assert await written(settings) == (1, 1)


async def test_a_browser_is_sent_to_the_forms_own_thank_you_url(settings, api_keys):
    async with capture(
        settings, api_keys, thank_you_url="https://www.example.com/thanks?from=form"
    ) as client:
        answer = await client.post(SUBMIT, data=FILLED, headers=BROWSER)

    assert (answer.status_code, answer.headers["location"]) == (
        303,
        "https://www.example.com/thanks?from=form",
    )


async def test_a_browser_with_problems_is_sent_to_the_error_page_which_lists_them(
    settings, api_keys
):
    async with capture(settings, api_keys) as client:
        answer = await client.post(
            SUBMIT, data=FILLED | {"work_email": "ada", "agree": ""}, headers=BROWSER
        )
        location = answer.headers["location"]
        page = await client.get(location, headers={"Referer": "https://www.example.com/ebook"})
        bare = await client.get("/v1/forms/ebook/error?error=org:is%20required")

    assert answer.status_code == 303
    assert urlsplit(location).path == "/v1/forms/ebook/error"
    errors = error_params(location)
    assert [error.partition(":")[0] for error in errors] == ["agree", "work_email"]
    assert "agree:consent is required" in errors
    assert page.status_code == 200
    assert "consent is required" in page.text
    assert "An email address must have an @-sign" in page.text
    assert 'href="https://www.example.com/ebook"' in page.text
    assert 'href="/v1/forms/ebook/page"' in bare.text
    assert "is required" not in bare.text, "only problems capture signed are shown"
    assert await written(settings) == (0, 0)


async def test_a_browser_with_problems_is_sent_to_the_forms_own_error_url(settings, api_keys):
    async with capture(
        settings,
        api_keys,
        error_url="https://www.example.com/oops?lang=en",
        require_valid_phone=True,
    ) as client:
        answer = await client.post(SUBMIT, data=FILLED | {"tel": "12"}, headers=BROWSER)

    location = answer.headers["location"]
    assert location.startswith("https://www.example.com/oops?lang=en&error=")
    assert error_params(location) == ["tel:has the wrong number of digits"]


async def test_the_form_page_posts_every_field_consent_and_the_honeypot(settings, api_keys):
    async with capture(settings, api_keys) as client:
        page = await client.get(
            "/v1/forms/ebook/page?utm_source=newsletter",
            headers={"Referer": "https://news.example/"},
        )
        unknown = await client.get("/v1/forms/nope/page")

    assert page.status_code == 200 and unknown.status_code == 404
    html = page.text
    assert '<form method="post" action="/v1/forms/ebook/submissions">' in html
    for name in ("work_email", "fname", "org", "tel", "agree", "website"):
        assert f'name="{name}"' in html
    assert 'type="checkbox" name="agree" value="on" required' in html
    assert "Ebooks Ltd may email me." in html
    assert '<input type="hidden" name="utm_source" value="newsletter">' in html
    assert '<input type="hidden" name="referrer" value="https://news.example/">' in html
    assert "<script" not in html and "http://" not in html.replace("https://news.example/", "")


async def test_an_unknown_form_is_404(settings, api_keys):
    async with capture(settings, api_keys) as client:
        answer = await client.post("/v1/forms/nope/submissions", data=FILLED)

    assert answer.status_code == 404
    assert answer.json()["detail"] == "there is no form nope"
