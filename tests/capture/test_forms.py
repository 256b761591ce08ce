"""Web forms against the real database and broker: the admin API, submissions in every body
type, browser redirects and pages, CORS, the honeypot, rate and size limits."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import Page, async_playwright
from prometheus_client import REGISTRY
from sqlalchemy import text

from handoff.demo import DEMO_FORM, DEMO_FORM_ID, load_demo
from handoff.embedded import free_port
from services.capture.app import create_app
from services.capture.schemas import FormIn
from shared.db import create_engine
from shared.settings import Settings
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, needs_chromium
from tests.helpers import auth, reading, running, wait_for

pytestmark = pytest.mark.asyncio

FORM = {
    "name": "Ebook download",
    "field_mapping": {
        "work_email": "email",
        "fname": "first_name",
        "org": "company",
        "tel": "phone",
        "agree": "consent",
    },
    "required_fields": ["email", "company"],
    "allowed_origins": ["https://www.example.com"],
    "consent_required": True,
    "consent_text": "Ebooks Ltd may email me.",
    "consent_version": "2026-01",
    "default_source": "website",
    "default_campaign": "always-on",
    "default_region": "GB",
    "honeypot_field": "website",
}
FILLED = {
    "work_email": "Ada.Lovelace@Example.COM",
    "fname": "Ada",
    "org": "Analytical Engines",
    "tel": "020 7123 4567",
    "agree": "on",
}
SUBMIT = "/v1/forms/ebook/submissions"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@asynccontextmanager
async def capture(
    settings: Settings, api_keys: dict[str, str], **changes: object
) -> AsyncIterator[httpx.AsyncClient]:
    """Capture running with the `ebook` form defined (with `changes`)."""
    async with running(create_app(settings)) as client:
        answer = await client.put(
            "/v1/forms/ebook", json=FORM | changes, headers=auth(api_keys["admin"])
        )
        assert answer.status_code == 201, answer.text
        yield client


async def written(settings: Settings) -> tuple[int, int]:
    """(leads, outbox rows) in capture's tables."""
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            leads = await connection.scalar(text("SELECT count(*) FROM capture.leads"))
            return leads, await connection.scalar(text("SELECT count(*) FROM capture.outbox"))
    finally:
        await engine.dispose()


def captured_topic(settings: Settings):
    return reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1"))


def fields_of(answer: httpx.Response) -> list[str]:
    assert all(error["reason"] for error in answer.json()["errors"]), answer.text
    return [error["field"] for error in answer.json()["errors"]]


def error_params(location: str) -> list[str]:
    return parse_qs(urlsplit(location).query)["error"]


# ---- submissions ------------------------------------------------------------------------------

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


# ---- validation -------------------------------------------------------------------------------


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


# ---- CORS -------------------------------------------------------------------------------------


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }


async def test_a_preflight_from_an_allowed_origin_is_answered(settings, api_keys):
    async with capture(settings, api_keys) as client:
        allowed = await client.options(SUBMIT, headers=preflight("https://www.example.com"))
        default_port = await client.options(
            SUBMIT, headers=preflight("https://www.example.com:443")
        )

    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
    assert allowed.headers["access-control-allow-methods"] == "POST"
    assert allowed.headers["access-control-allow-headers"].lower() == "accept, content-type"
    assert int(allowed.headers["access-control-max-age"]) > 0
    assert "origin" in allowed.headers["vary"].lower()
    assert default_port.status_code == 204


@pytest.mark.parametrize("origin", ["https://evil.example", "http://www.example.com", "null"])
async def test_a_preflight_from_another_origin_is_refused(settings, api_keys, origin):
    async with capture(settings, api_keys) as client:
        answer = await client.options(SUBMIT, headers=preflight(origin))

    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers
    assert fields_of(answer) == ["origin"]


@pytest.mark.parametrize(
    "asked, field",
    [
        ({"Access-Control-Request-Method": "DELETE"}, "access-control-request-method"),
        (
            {"Access-Control-Request-Headers": "content-type, x-evil"},
            "access-control-request-headers",
        ),
    ],
    ids=["method", "headers"],
)
async def test_a_preflight_asking_for_more_than_a_form_post_is_refused(
    settings, api_keys, asked, field
):
    async with capture(settings, api_keys) as client:
        answer = await client.options(SUBMIT, headers=preflight("https://www.example.com") | asked)

    assert answer.status_code == 403
    assert fields_of(answer) == [field]


async def test_any_origin_gets_a_star_when_the_form_allows_all(settings, api_keys):
    async with capture(settings, api_keys, allowed_origins=["*"]) as client:
        answer = await client.options(SUBMIT, headers=preflight("https://anywhere.example"))
        posted = await client.post(
            SUBMIT, data=FILLED, headers={"Origin": "https://anywhere.example"}
        )

    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert (posted.status_code, posted.headers["access-control-allow-origin"]) == (202, "*")


async def test_posts_from_allowed_origins_carry_the_cors_header(settings, api_keys):
    origin = {"Origin": "https://www.example.com"}
    async with capture(settings, api_keys) as client:
        accepted = await client.post(SUBMIT, data=FILLED, headers=origin)
        refused = await client.post(SUBMIT, data=FILLED | {"org": " "}, headers=origin)
        own_page = await client.post(SUBMIT, data=FILLED, headers={"Origin": "http://testserver"})

    assert accepted.status_code == 202 and refused.status_code == 422
    for answer in (accepted, refused):
        assert answer.headers["access-control-allow-origin"] == "https://www.example.com"
    assert own_page.status_code == 202


async def test_a_post_from_another_origin_gets_403_and_writes_nothing(settings, api_keys):
    async with capture(settings, api_keys) as client:
        answer = await client.post(SUBMIT, data=FILLED, headers={"Origin": "https://evil.example"})

    assert answer.status_code == 403
    assert fields_of(answer) == ["origin"]
    assert await written(settings) == (0, 0)


# ---- spam and abuse ---------------------------------------------------------------------------


def spam_count(form_id: str) -> float:
    return REGISTRY.get_sample_value("handoff_form_spam_total", {"form": form_id}) or 0.0


async def test_a_filled_honeypot_looks_accepted_but_writes_nothing(settings, api_keys):
    before = spam_count("ebook")
    bot = FILLED | {"website": "http://spam.example"}
    async with capture(settings, api_keys) as client, captured_topic(settings) as topic:
        api = await client.post(SUBMIT, data=bot)
        browser = await client.post(SUBMIT, data=bot, headers=BROWSER)
        await topic.assert_no_more(0)

    assert api.status_code == 202 and api.json()["merged"] is False
    assert len(api.json()["lead_id"]) == 36
    assert browser.status_code == 303
    assert browser.headers["location"] == "/v1/forms/ebook/thank-you"
    assert await written(settings) == (0, 0)
    assert spam_count("ebook") == before + 2


async def test_a_client_over_its_rate_gets_429_with_retry_after(settings, api_keys):
    limited = settings.model_copy(update={"form_rate_per_ip_per_minute": 2})
    async with capture(limited, api_keys) as client, captured_topic(settings) as topic:
        answers = [
            await client.post(SUBMIT, data=FILLED | {"work_email": f"p{n}@example.com"})
            for n in range(3)
        ]
        await topic.wait_for_count(2)
        await topic.assert_no_more(2)

    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert 55 <= int(answers[2].headers["retry-after"]) <= 60  # when the first one leaves
    assert await written(settings) == (2, 2)


async def test_a_form_over_its_rate_gets_429(settings, api_keys):
    limited = settings.model_copy(update={"form_rate_per_form_per_minute": 1})
    async with capture(limited, api_keys) as client:
        first = await client.post(SUBMIT, data=FILLED)
        second = await client.post(SUBMIT, data=FILLED | {"work_email": "bob@example.com"})

    assert (first.status_code, second.status_code) == (202, 429)
    assert 55 <= int(second.headers["retry-after"]) <= 60
    assert await written(settings) == (1, 1)


async def chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 100):
        yield b"x" * 100


@pytest.mark.parametrize(
    "request_args",
    [
        {"content": b"agree=on&org=" + b"x" * 2000},
        {"content": b"agree=on&org=" + b"x" * 2000, "headers": {"Content-Length": "20"}},
        {"content": chunks(2000)},
    ],
    ids=["content-length", "lying-content-length", "chunked"],
)
async def test_a_body_over_the_limit_gets_413_and_writes_nothing(settings, api_keys, request_args):
    small = settings.model_copy(update={"max_form_body_bytes": 1024, "max_body_bytes": 1024})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with capture(small, api_keys) as client:
        answer = await client.post(
            SUBMIT, **(request_args | {"headers": headers | request_args.get("headers", {})})
        )
        lead_api = await client.post(
            "/v1/leads",
            content=b"{" + b" " * 2000 + b"}",
            headers={"Content-Type": "application/json", **auth(api_keys["marketing"])},
        )
        within = await client.post(SUBMIT, data=FILLED)

    assert answer.status_code == 413, answer.text
    assert fields_of(answer) == ["body"]
    assert lead_api.status_code == 413
    assert within.status_code == 202
    assert await written(settings) == (1, 1)


async def test_a_body_announced_over_the_limit_is_refused_before_anything_reads_it(
    settings, api_keys
):
    small = settings.model_copy(update={"max_form_body_bytes": 1024})
    async with capture(small, api_keys) as client:
        # an unknown form would be 404, but only after its body was read
        answer = await client.post("/v1/forms/nope/submissions", content=b"x" * 1025)

    assert answer.status_code == 413
    assert answer.json()["errors"] == [{"field": "body", "reason": "must be at most 1024 bytes"}]


# ---- the admin API ----------------------------------------------------------------------------


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


# ---- the demo form ----------------------------------------------------------------------------


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """Capture on a real port, for a client that speaks plain HTTP."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        await wait_for(lambda: server.started, timeout_s=30, message="uvicorn started")
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)


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

    async with served(settings) as url, captured_topic(settings) as topic:
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


# ---- a real browser ---------------------------------------------------------------------------


@asynccontextmanager
async def chromium() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


@pytest.mark.browser
@needs_chromium
async def test_a_browser_fills_in_the_demo_page_and_lands_on_thank_you(settings, api_keys):
    async with served(settings) as url, captured_topic(settings) as topic, chromium() as page:
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
    async with served(settings) as url, chromium() as page:
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


async def test_a_browser_over_the_rate_limit_lands_on_the_error_page(settings, api_keys):
    limited = settings.model_copy(update={"form_rate_per_ip_per_minute": 1})
    async with capture(limited, api_keys) as client:
        await client.post(SUBMIT, data=FILLED, headers=BROWSER)
        answer = await client.post(SUBMIT, data=FILLED, headers=BROWSER)

    assert answer.status_code == 303
    error = parse_qs(urlsplit(answer.headers["location"]).query)["error"]
    assert error[0].startswith("submission:too many submissions")
