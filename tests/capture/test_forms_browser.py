"""The demo form: put by load_demo and posted over plain HTTP, then filled in by a real Chromium."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from handoff.demo import DEMO_FORM, DEMO_FORM_ID, load_demo
from services.capture.app import create_app
from services.capture.schemas import FormIn
from tests.browser import chromium, needs_chromium, served
from tests.capture.forms_helpers import BROWSER, FORM, captured_topic, written
from tests.helpers import auth

pytestmark = pytest.mark.asyncio


async def test_load_demo_puts_the_demo_form_which_a_browser_can_post(settings, api_keys):
    form = FormIn.model_validate(DEMO_FORM)
    assert set(form.field_mapping) == {
        "email",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "country",
        "phone",
        "consent",
    }
    assert form.consent_required and form.consent_text and form.consent_version
    assert (form.allowed_origins, form.thank_you_url, form.error_url) == (["*"], None, None)

    async with served(create_app(settings)) as url, captured_topic(settings) as topic:
        await asyncio.to_thread(load_demo, url, api_keys["admin"])
        await asyncio.to_thread(load_demo, url, api_keys["admin"])  # again: replaced, no error
        async with httpx.AsyncClient(base_url=url) as client:
            page = await client.get(f"/v1/forms/{DEMO_FORM_ID}/page")
            answer = await client.post(
                f"/v1/forms/{DEMO_FORM_ID}/submissions",
                headers=BROWSER,
                data={
                    "email": "grace@example.com",
                    "consent": "on",
                    "first_name": "Grace",
                    "country": "US",
                },
            )
        [record] = await topic.wait_for_count(1)

    assert page.status_code == 200 and 'name="job_title"' in page.text
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        f"/v1/forms/{DEMO_FORM_ID}/thank-you",
    )
    payload = json.loads(record.value)["payload"]
    assert payload["first_touch"]["source"] == "demo"
    assert payload["consent"]["text_version"] == DEMO_FORM["consent_version"]


@pytest.mark.browser
@needs_chromium
async def test_a_browser_fills_in_the_demo_page_and_lands_on_thank_you(settings, api_keys):
    async with (
        served(create_app(settings)) as url,
        captured_topic(settings) as topic,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await asyncio.to_thread(load_demo, url, api_keys["admin"])
        await page.goto(f"{url}/v1/forms/demo/page?utm_source=browser-test")
        await page.get_by_label("Email").fill("Margaret.Hamilton@Example.com")
        await page.get_by_label("First name").fill("Margaret")
        await page.get_by_label("Country").fill("United States")
        await page.get_by_label("I agree", exact=False).check()
        await page.get_by_role("button", name="Send").click()
        await page.wait_for_url("**/v1/forms/demo/thank-you")
        heading = await page.locator("h1").text_content()
        [record] = await topic.wait_for_count(1)

    assert heading == "Thank you"
    payload = json.loads(record.value)["payload"]
    assert payload["contact"]["email"] == "Margaret.Hamilton@example.com"
    assert payload["contact"]["country"] == "US"
    assert payload["consent"]["given"] is True
    assert payload["first_touch"]["utm_source"] == "browser-test"


@pytest.mark.browser
@needs_chromium
async def test_a_browser_script_may_post_json_only_from_an_allowed_origin(settings, api_keys):
    async with served(create_app(settings)) as url, chromium() as browser:
        page = await browser.new_page()
        other_origin = url.replace("127.0.0.1", "localhost")  # another origin, same server
        async with httpx.AsyncClient(base_url=url, headers=auth(api_keys["admin"])) as admin:
            for form_id, origins in (("open", [other_origin]), ("closed", ["https://a.example"])):
                answer = await admin.put(
                    f"/v1/forms/{form_id}",
                    json=FORM
                    | {
                        "allowed_origins": origins,
                        "field_mapping": {},
                        "required_fields": [],
                        "consent_required": False,
                    },
                )
                assert answer.status_code == 201, answer.text
        await page.goto(f"{other_origin}/healthz")
        post = """async url => {
            try {
                const answer = await fetch(url, {method: "POST", body: JSON.stringify(
                    {email: "ada@example.com"}), headers: {"Content-Type": "application/json"}});
                return [answer.status, (await answer.json()).merged];
            } catch (error) { return ["blocked", String(error)]; }
        }"""
        allowed = await page.evaluate(post, f"{url}/v1/forms/open/submissions")
        refused = await page.evaluate(post, f"{url}/v1/forms/closed/submissions")

    assert allowed == [202, False]
    assert refused[0] == "blocked"
    assert await written(settings) == (1, 1)
