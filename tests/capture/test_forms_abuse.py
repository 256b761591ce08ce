"""Spam and abuse on form submissions: the honeypot, per-client and per-form rates, body sizes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import REGISTRY

from tests.capture.forms_helpers import (
    BROWSER,
    FILLED,
    SUBMIT,
    capture,
    captured_topic,
    fields_of,
    written,
)
from tests.helpers import auth

pytestmark = pytest.mark.asyncio


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


async def test_a_browser_over_the_rate_limit_lands_on_the_error_page(settings, api_keys):
    limited = settings.model_copy(update={"form_rate_per_ip_per_minute": 1})
    async with capture(limited, api_keys) as client:
        await client.post(SUBMIT, data=FILLED, headers=BROWSER)
        answer = await client.post(SUBMIT, data=FILLED, headers=BROWSER)

    assert answer.status_code == 303
    error = parse_qs(urlsplit(answer.headers["location"]).query)["error"]
    assert error[0].startswith("submission:too many submissions")
