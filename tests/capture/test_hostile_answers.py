"""Hostile input (issue 9): capture's pages, refusals to a browser, unknown forms, OpenAPI."""

from __future__ import annotations

import json

import pytest

from services.capture.app import create_app
from tests.capture.forms_helpers import BROWSER, FILLED, FORM, SUBMIT, capture
from tests.capture.leads_helpers import sql
from tests.helpers import auth, running

pytestmark = pytest.mark.asyncio


# ---- 6: capture's pages show only capture's words and link only to the form's sites -----------

LURE = "submission:Your account is locked. Call +1 555 0100"


async def test_the_error_page_shows_no_sentence_a_link_brought(settings, api_keys):
    async with capture(settings, api_keys) as client:
        page = await client.get("/v1/forms/ebook/error", params={"error": LURE})
        forged = await client.get("/v1/forms/ebook/error", params={"error": LURE, "sig": "0" * 32})
        real = await client.post(SUBMIT, data=FILLED | {"org": ""}, headers=BROWSER)
        shown = await client.get(real.headers["location"])

    assert "locked" not in page.text and "locked" not in forged.text
    assert "Something in the form needs fixing" in page.text
    assert "is required" in shown.text, "capture's own problems are still shown"


@pytest.mark.parametrize(
    "referer, back",
    [
        ("https://evil.example/phish", "/v1/forms/ebook/page"),
        ("javascript:alert(1)", "/v1/forms/ebook/page"),
        ("https://www.example.com/ebook?x=1", "https://www.example.com/ebook?x=1"),
    ],
)
async def test_back_to_the_form_links_only_to_the_forms_own_origins(
    settings, api_keys, referer, back
):
    async with capture(settings, api_keys, allowed_origins=["https://www.example.com", "*"]) as c:
        page = await c.get("/v1/forms/ebook/error", headers={"Referer": referer})

    assert f'href="{back}"' in page.text


# ---- 9: every refusal reaches a browser the same way ----------------------------------------

ORIGIN = {"Origin": "https://www.example.com"}


async def test_an_unknown_form_and_a_body_too_large_carry_cors_headers(settings, api_keys):
    big = {"work_email": "a@example.com", "org": "x" * (settings.max_form_body_bytes + 1)}
    async with capture(settings, api_keys) as client:
        unknown = await client.post("/v1/forms/nope/submissions", data=FILLED, headers=ORIGIN)
        too_large = await client.post(SUBMIT, data=big, headers=ORIGIN)

    assert (unknown.status_code, too_large.status_code) == (404, 413)
    assert unknown.headers["access-control-allow-origin"] == "*"
    assert too_large.headers["access-control-allow-origin"] == "*"


async def test_a_browser_gets_pages_for_an_unknown_form_a_body_too_large_and_the_wait(
    settings, api_keys
):
    big = {"work_email": "a@example.com", "org": "x" * (settings.max_form_body_bytes + 1)}
    limited = settings.model_copy(update={"form_rate_per_ip_per_minute": 1})
    async with capture(limited, api_keys) as client:
        unknown = await client.post("/v1/forms/nope/submissions", data=FILLED, headers=BROWSER)
        too_large = await client.post(SUBMIT, data=big, headers=BROWSER)
        page = await client.get(too_large.headers["location"])
        await client.post(SUBMIT, data=FILLED, headers=BROWSER)
        limited_answer = await client.post(SUBMIT, data=FILLED, headers=BROWSER)

    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
    assert too_large.status_code == 303
    assert f"larger than {settings.max_form_body_bytes} bytes" in page.text
    assert limited_answer.status_code == 303
    assert 1 <= int(limited_answer.headers["retry-after"]) <= 60


# ---- 11: a flood to unknown forms does not reach the database ---------------------------------


async def test_posts_to_an_unknown_form_are_refused_without_a_query_after_the_first(
    settings, api_keys
):
    async with running(create_app(settings)) as client:
        first = await client.post("/v1/forms/nope/submissions", data=FILLED)
        # With the table away, any query for the form fails: only answers without one are 404s.
        await sql(settings, "ALTER TABLE capture.forms RENAME TO forms_away")
        try:
            flood = [
                (await client.post("/v1/forms/nope/submissions", data=FILLED)).status_code
                for _ in range(50)
            ]
        finally:
            await sql(settings, "ALTER TABLE capture.forms_away RENAME TO forms")
        await client.put("/v1/forms/nope", json=FORM, headers=auth(api_keys["admin"]))
        created = await client.post("/v1/forms/nope/submissions", data=FILLED)

    assert first.status_code == 404
    assert flood == [404] * 50, "no query for an id found missing moments ago"
    assert created.status_code == 202, "a form created here is found at once"


# ---- 10: the OpenAPI document describes the answers -------------------------------------------


async def test_the_openapi_document_names_the_error_body_capture_sends(settings):
    spec = create_app(settings).openapi()
    documented = {
        (method, path, code): set(answer.get("content", {}))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for code, answer in operation["responses"].items()
    }

    assert "HTTPValidationError" not in json.dumps(spec), "422s are the project's {detail, errors}"
    for (method, path, code), media_types in documented.items():
        if code.startswith("4"):
            assert "application/json" in media_types, (method, path, code)
    assert documented[("post", "/v1/forms/{form_id}/submissions", "404")] == {
        "application/json",
        "text/html",
    }
