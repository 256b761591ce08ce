"""Signing in to the pages: the session cookie, who may sign in, CSRF on every form, revoking."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from handoff.keys import create_api_key, revoke_api_key
from services.feedback.api.pages.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Session,
    read_session,
    session_value,
)
from shared.auth import Role
from shared.settings import Settings
from tests.feedback.conftest import Publish
from tests.feedback.pages_helpers import sign_in, token_of
from tests.feedback.test_api import assigned_lead, stage_of

SECRET = "s" * 40


def test_a_session_cookie_holds_only_while_untouched_and_unexpired() -> None:
    key_id = uuid.uuid4()
    value = session_value(SECRET, key_id, "hk_secret-key", now=1000.0)
    assert "hk_secret-key" not in value and b"hk_" not in base64.urlsafe_b64decode(value + "==")
    assert read_session(SECRET, value, now=1001.0) == Session(key_id, "hk_secret-key")
    assert read_session(SECRET, value, now=1000.0 + SESSION_SECONDS + 1) is None
    assert read_session("another-secret-" * 3, value, now=1001.0) is None
    tampered = value[:-6] + ("A" if value[-6] != "A" else "B") + value[-5:]
    assert read_session(SECRET, tampered, now=1001.0) is None
    assert read_session(SECRET, None) is None and read_session(SECRET, "garbage") is None


@pytest.mark.asyncio
async def test_a_page_without_a_session_sends_the_browser_to_sign_in(
    feedback: httpx.AsyncClient,
) -> None:
    for path in ("/dashboard", "/inbox", "/dashboard/funnel.csv"):
        answer = await feedback.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/signin?next=%2F"), path


@pytest.mark.asyncio
async def test_a_wrong_key_is_refused_and_starts_no_session(
    feedback: httpx.AsyncClient, api_keys: dict[str, str]
) -> None:
    unknown = await sign_in(feedback, "hk_not-a-key")
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.text
    crm = await sign_in(feedback, api_keys["crm"])
    assert crm.status_code == 403 and "cannot sign in" in crm.text
    assert SESSION_COOKIE not in feedback.cookies
    assert (await feedback.get("/dashboard")).status_code == 303


@pytest.mark.asyncio
async def test_signing_in_sets_httponly_samesite_cookies_and_goes_only_to_a_local_page(
    feedback: httpx.AsyncClient, api_keys: dict[str, str]
) -> None:
    answer = await sign_in(feedback, api_keys["marketing"], next="//evil.example/x")
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    cookies = answer.headers.get_list("set-cookie")
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        [cookie] = [c for c in cookies if c.startswith(f"{name}=")]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie, cookie
    assert api_keys["marketing"] not in " ".join(cookies)  # the key itself never goes in a cookie
    dashboard = await feedback.get("/dashboard")
    assert dashboard.status_code == 200 and "<h1>Dashboard</h1>" in dashboard.text
    assert (await feedback.get("/inbox")).status_code == 403  # the inbox is a rep's


@pytest.mark.asyncio
async def test_a_revoked_key_ends_its_session(
    feedback: httpx.AsyncClient, settings: Settings
) -> None:
    key_id, key = await create_api_key(
        settings.database_url, settings.secret_key, role=Role.marketing, name="leaving"
    )
    assert (await sign_in(feedback, key)).status_code == 303
    assert (await feedback.get("/dashboard")).status_code == 200
    assert await revoke_api_key(settings.database_url, key_id)
    assert (await feedback.get("/dashboard")).status_code == 303


@pytest.mark.asyncio
async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = await assigned_lead(publish, feedback, api_keys)
    await sign_in(feedback, api_keys["sales"], next="/inbox")
    inbox = await feedback.get("/inbox")
    body = {"lead_id": str(lead.lead_id), "verdict": "accepted"}
    for token in (None, "", token_of(inbox)[:-2] + "xx"):
        form = body if token is None else body | {"csrf_token": token}
        answer = await feedback.post("/inbox/verdict", data=form)
        assert answer.status_code == 403 and "security token" in answer.text
    assert await stage_of(feedback, api_keys["marketing"], lead.lead_id) == "assigned"
    # nor may another site sign someone in, or out
    assert (await feedback.post("/signin", data={"api_key": api_keys["sales"]})).status_code == 403
    assert (await feedback.post("/signout", data={})).status_code == 403
    assert (await feedback.get("/inbox")).status_code == 200
