"""CORS on form submissions: preflights and the allow-origin header, per the form's origins."""

from __future__ import annotations

import pytest

from tests.capture.forms_helpers import FILLED, SUBMIT, capture, fields_of, written

pytestmark = pytest.mark.asyncio


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
