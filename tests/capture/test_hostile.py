"""Capture under hostile and foreign input (issue 9): each reproduction that once got through."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from handoff.embedded import free_port
from handoff.stack import uvicorn_limits
from services.capture.app import create_app
from tests.capture.forms_helpers import (
    BROWSER,
    FILLED,
    FORM,
    SUBMIT,
    capture,
    captured_topic,
    fields_of,
    written,
)
from tests.capture.leads_helpers import JSON, LEAD, count_rows, sql
from tests.helpers import auth, running, wait_for

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


# ---- 2: nobody locks a form for everyone ----------------------------------------------------


async def test_refused_posts_spend_nothing_of_the_forms_allowance(settings, api_keys):
    limited = settings.model_copy(
        update={"form_rate_per_form_per_minute": 3, "form_rate_per_ip_per_minute": 100}
    )
    async with capture(limited, api_keys) as client:
        garbage = [(await client.post(SUBMIT, json={})).status_code for _ in range(10)]
        answer = await client.post(SUBMIT, data=FILLED)

    assert garbage == [422] * 10
    assert answer.status_code == 202, answer.text


# ---- 3 and 12: forwarded headers trusted only where configured; uvicorn's limits ---------------


def uvicorn_options(env: dict[str, str]) -> dict[str, object]:
    """The options `handoff up` gives each service's uvicorn, as uvicorn's own CLI reads them."""
    context = uvicorn.main.make_context("uvicorn", ["app:app", *uvicorn_limits(env)])
    return {
        name: context.params[name]
        for name in (
            "proxy_headers",
            "forwarded_allow_ips",
            "timeout_keep_alive",
            "limit_concurrency",
        )
    }


async def test_the_stack_trusts_forwarded_headers_only_from_configured_addresses():
    assert uvicorn_options({})["proxy_headers"] is False
    configured = uvicorn_options({"FORWARDED_ALLOW_IPS": "10.1.0.0/16"})
    assert (configured["proxy_headers"], configured["forwarded_allow_ips"]) == (True, "10.1.0.0/16")
    assert (configured["timeout_keep_alive"], configured["limit_concurrency"]) == (5, 500)


DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"
FAKE_UVICORN = '#!/bin/sh\nfor arg in "$@"; do printf "%s\\n" "$arg"; done\n'


def image_uvicorn_arguments(env: dict[str, str], tmp_path: Path) -> list[str]:
    """The arguments the image's CMD gives uvicorn under `env` (plus the image's own ENV),
    seen by running the CMD with a stand-in `uvicorn` that prints them."""
    lines = DOCKERFILE.read_text().splitlines()
    [cmd] = [json.loads(line[len("CMD") :]) for line in lines if line.startswith("CMD ")]
    image_env = dict(
        pair.split("=", 1)
        for line in lines
        if line.startswith("ENV ")
        for pair in shlex.split(line[len("ENV ") :])
    )
    fake = tmp_path / "uvicorn"
    fake.write_text(FAKE_UVICORN)
    fake.chmod(0o755)
    path = f"{tmp_path}:{os.environ['PATH']}"
    shown = subprocess.run(
        cmd, env=image_env | env | {"PATH": path}, capture_output=True, text=True, check=True
    )
    return shown.stdout.splitlines()


@pytest.mark.parametrize(
    "env",
    [{}, {"FORWARDED_ALLOW_IPS": "10.1.0.0/16, 10.2.0.0/16", "HANDOFF_LIMIT_CONCURRENCY": "80"}],
    ids=["unset", "configured"],
)
async def test_the_image_gives_uvicorn_the_limits_handoff_up_gives(env, tmp_path):
    arguments = image_uvicorn_arguments(env, tmp_path)
    context = uvicorn.main.make_context("uvicorn", arguments)
    image = {name: context.params[name] for name in uvicorn_options(env)}

    assert image == uvicorn_options(env)
    assert context.params["app"] == "services.capture.app:create_app"


async def test_a_local_client_cannot_pick_its_address_with_x_forwarded_for(settings, api_keys):
    limited = settings.model_copy(update={"form_rate_per_ip_per_minute": 3})
    options = uvicorn_options({})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(limited),
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            proxy_headers=bool(options["proxy_headers"]),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        await wait_for(lambda: server.started, timeout_s=30, message="uvicorn started")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.config.port}") as client:
            await client.put("/v1/forms/ebook", json=FORM, headers=auth(api_keys["admin"]))
            codes = [
                (
                    await client.post(SUBMIT, json={}, headers={"X-Forwarded-For": f"10.9.0.{n}"})
                ).status_code
                for n in range(5)
            ]
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)

    assert codes == [422, 422, 422, 429, 429]


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
