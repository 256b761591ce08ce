"""Signing in to the pages under a flood of made-up keys: the sign-in form spends the same
per-address budget of unknown keys as an API call (shared.auth), so past it the page refuses
before any query, says how long to wait, and a person elsewhere still signs in.

Against the real database: statements naming the api_keys table are counted as they are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from services.feedback.api.pages.session import SESSION_COOKIE
from services.feedback.app import create_app
from shared.auth import UNKNOWN_KEYS_PER_CLIENT, new_key
from shared.settings import Settings
from tests.browser import chromium, needs_chromium, served, snap
from tests.feedback.pages_helpers import token_of
from tests.helpers import running

pytestmark = pytest.mark.asyncio

FLOODER, OTHER = "192.0.2.66", "198.51.100.7"
FLOOD = 60


class KeyQueries:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "api_keys" in statement:
            self.count += 1


@asynccontextmanager
async def feedback_from(
    settings: Settings, *addresses: str
) -> AsyncIterator[tuple[KeyQueries, list[httpx.AsyncClient]]]:
    """Feedback running in-process, a client (its own cookies) per address, lookups counted."""
    app, queries = create_app(settings), KeyQueries()
    async with running(app):
        engine = app.state.runtime.engine.sync_engine
        event.listen(engine, "before_cursor_execute", queries)
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                base_url="http://testserver",
            )
            for address in addresses
        ]
        try:
            yield queries, clients
        finally:
            event.remove(engine, "before_cursor_execute", queries)
            for client in clients:
                await client.aclose()


async def sign_in_form(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/signin")
    return {"next": "/dashboard", "csrf_token": token_of(page)}


async def test_a_flood_of_made_up_keys_on_the_sign_in_page_costs_the_addresss_budget_only(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    async with feedback_from(settings, FLOODER, OTHER) as (queries, (flooder, other)):
        form = await sign_in_form(flooder)
        before = queries.count
        flood = await asyncio.gather(
            *(flooder.post("/signin", data=form | {"api_key": new_key()}) for _ in range(FLOOD))
        )
        flood_queries = queries.count - before
        session_after_flood = SESSION_COOKIE in flooder.cookies
        real_from_flooder = await flooder.post(
            "/signin", data=form | {"api_key": api_keys["marketing"]}
        )
        elsewhere = await other.post(
            "/signin", data=await sign_in_form(other) | {"api_key": api_keys["marketing"]}
        )
        once_known = await flooder.post("/signin", data=form | {"api_key": api_keys["marketing"]})

    codes = [answer.status_code for answer in flood]
    assert codes.count(401) == UNKNOWN_KEYS_PER_CLIENT
    assert codes.count(429) == FLOOD - UNKNOWN_KEYS_PER_CLIENT
    assert flood_queries <= UNKNOWN_KEYS_PER_CLIENT, "a refused sign-in costs no query"

    refused = next(answer for answer in flood if answer.status_code == 429)
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    assert refused.headers["content-type"].startswith("text/html")
    assert "Too many unknown keys were tried from this address" in refused.text
    assert f"Wait {wait} second" in refused.text
    assert 'name="api_key"' in refused.text, "the form is there to try again"
    assert not session_after_flood

    assert real_from_flooder.status_code == 429, "the flooding address waits for its window..."
    assert elsewhere.status_code == 303, "...a person elsewhere signs in at once"
    assert once_known.status_code == 303, "...and a key found lately is never refused"
    assert SESSION_COOKIE in other.cookies and SESSION_COOKIE in flooder.cookies


@pytest.mark.browser
@needs_chromium
async def test_in_the_browser_a_refused_sign_in_says_how_long_to_wait(
    settings: Settings, tmp_path: Path
) -> None:
    """The address's budget spent (by posts from the same machine), a person signing in gets
    the sign-in page again with the wait in words, not a JSON body or an error page."""
    async with (
        served(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url) as client,
        chromium() as browser,
    ):
        form = await sign_in_form(client)
        for _ in range(UNKNOWN_KEYS_PER_CLIENT):
            spent = await client.post("/signin", data=form | {"api_key": new_key()})
            assert spent.status_code == 401
        page = await browser.new_page()
        await page.goto(f"{url}/signin")
        await page.get_by_label("API key").fill(new_key())
        async with page.expect_response(f"{url}/signin") as answered:
            await page.get_by_role("button", name="Sign in").click()
        answer = await answered.value
        status, retry_after = answer.status, await answer.header_value("retry-after")
        alert = await page.get_by_role("alert").inner_text()
        await snap(page, tmp_path, "signin-refused")
        title = await page.title()
        button = await page.get_by_role("button", name="Sign in").count()

    assert status == 429
    assert 1 <= int(retry_after or 0) <= 60
    assert alert.startswith("Too many unknown keys were tried from this address. Wait ")
    assert " second" in alert
    assert "Sign in" in title and button == 1, "the sign-in form, to try again later"
