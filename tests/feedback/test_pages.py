"""The pages: signing in with a key into a session cookie, CSRF on every form, a rep's inbox
(only their own leads; verdicts through the same rules as the API), the dashboard and its CSV.
Pure presentation helpers first, then the service on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoff.demo_routing import load_routing_demo
from handoff.demo_scoring import load_scoring_demo
from handoff.keys import create_api_key, revoke_api_key
from services.feedback.api.pages.charts import funnel_bars, plot
from services.feedback.api.pages.present import explanation, time_left
from services.feedback.api.pages.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Session,
    read_session,
    session_value,
)
from services.feedback.app import create_app as create_feedback
from services.routing.app import create_app as create_routing
from services.scoring.app import create_app as create_scoring
from shared.auth import Role
from shared.settings import Settings
from tests.e2e.test_journey import served
from tests.feedback.conftest import T0, Journey, Publish, capacity
from tests.feedback.test_api import assigned_lead, stage_of
from tests.helpers import auth, reading, running, wait_for

SECRET = "s" * 40

# ---- pure: words and shapes --------------------------------------------------------------------


def test_the_explanation_is_in_plain_words_biggest_effect_first() -> None:
    scored = {
        "explanation": [
            {"rule": "free_mail", "points": -10, "kind": "fit"},
            {"rule": "visited_pricing_twice", "points": 20, "kind": "engagement"},
            {"rule": "demo_request", "points": 30, "kind": "engagement", "decayed_value": 15.2},
        ]
    }
    assert explanation(scored) == [
        "Demo request: +30 (worth +15 now, fading with time)",
        "Visited pricing twice: +20",
        "Free mail: -10",
    ]
    assert explanation(None) == [] and explanation({"explanation": []}) == []


def test_time_left_counts_down_and_then_says_how_late() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert time_left(now + timedelta(hours=2, minutes=5), now) == ("2 h 05 min left", False)
    assert time_left(now + timedelta(seconds=30), now) == ("under a minute left", False)
    assert time_left(now - timedelta(minutes=12), now) == ("overdue by 12 min", True)
    assert time_left(now + timedelta(days=2, hours=3), now) == ("2 d 3 h left", False)
    assert time_left(None, now) == ("", False)


def test_funnel_bars_scale_to_the_first_step_and_carry_the_step_rate() -> None:
    row = {"lead": 200, "mql": 50, "sql": 0, "lead_to_mql": 0.25, "mql_to_sql": 0.0}
    bars = funnel_bars(row, ["lead", "mql", "sql"])
    assert [(b.label, b.value, b.width) for b in bars] == [
        ("lead", 200, 100.0),
        ("mql", 50, 25.0),
        ("sql", 0, 0.0),
    ]
    assert [b.note for b in bars] == ["", "25% of lead", "0% of mql"]
    assert all(b.width == 0 for b in funnel_bars({}, ["lead", "mql"]))


@given(
    st.lists(
        st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
        min_size=1,
        max_size=60,
    )
)
def test_every_plotted_point_lies_inside_the_chart(values: list[float | None]) -> None:
    chart = plot([f"d{i}" for i in range(len(values))], {"mqls": values}, width=600, height=200)
    points = [p.split(",") for p in chart.lines["mqls"].split()]
    assert len(points) == sum(v is not None for v in values)
    for x, y in points:
        assert 0 <= float(x) <= 600 and 0 <= float(y) <= 200
    # the largest value touches the top (the scale is at least 0..1: counts, not fractions)
    if max((v for v in values if v is not None), default=0) >= 1:
        assert min(float(y) for _, y in points) == 0


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


# ---- the service ---------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_of(page: httpx.Response | str) -> str:
    text = page if isinstance(page, str) else page.text
    found = CSRF.search(text)
    assert found, text
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, next: str = "/dashboard") -> httpx.Response:
    form = await client.get("/signin", params={"next": next})
    return await client.post(
        "/signin", data={"api_key": key, "next": next, "csrf_token": token_of(form)}
    )


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
async def test_a_rep_sees_only_their_own_leads_and_cannot_judge_another_reps(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], settings: Settings
) -> None:
    mine = await assigned_lead(publish, feedback, api_keys, rep="rep-1")
    theirs = await assigned_lead(publish, feedback, api_keys, rep="rep-2")
    await publish(mine.scored(T0 + timedelta(minutes=1)), theirs.scored(T0))
    assert (await sign_in(feedback, api_keys["sales"], next="/inbox")).status_code == 303

    async def explained() -> httpx.Response | None:
        page = await feedback.get("/inbox")
        return page if "Title head: +40" in page.text else None

    inbox = await wait_for(explained, message="the score's explanation on the inbox")
    assert f'id="lead-{mine.lead_id}"' in inbox.text and "Ada Lovelace" in inbox.text
    assert str(theirs.lead_id) not in inbox.text
    assert "overdue by" in inbox.text  # followed up by T0 + 4 h: long past
    async with reading(settings.kafka_bootstrap, settings.topic("lead.feedback.v1")) as topic:
        answer = await feedback.post(
            "/inbox/verdict",
            data={
                "lead_id": str(theirs.lead_id),
                "verdict": "accepted",
                "csrf_token": token_of(inbox),
            },
        )
        assert answer.status_code == 403 and "another rep" in answer.text
        await topic.assert_no_more(0, quiet_s=0.5)
    assert await stage_of(feedback, api_keys["marketing"], theirs.lead_id) == "assigned"


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


@pytest.mark.asyncio
async def test_a_verdict_from_the_inbox_follows_the_apis_rules(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], settings: Settings
) -> None:
    lead = await assigned_lead(publish, feedback, api_keys)
    await sign_in(feedback, api_keys["sales"], next="/inbox")
    token = token_of(await feedback.get("/inbox"))
    reject = {"lead_id": str(lead.lead_id), "verdict": "rejected", "csrf_token": token}
    async with reading(settings.kafka_bootstrap, settings.topic("lead.feedback.v1")) as topic:
        incomplete = await feedback.post("/inbox/verdict", data=reject)
        assert incomplete.status_code == 422 and "reason_code" in incomplete.text
        won = await feedback.post(
            "/inbox/verdict",
            data=reject | {"verdict": "won", "deal_value": "10", "currency": "EUR"},
        )
        assert won.status_code == 409  # won only after accepted
        done = await feedback.post(
            "/inbox/verdict",
            data=reject | {"reason_code": "no_budget", "note": "  Spends next   year "},
        )
        assert done.status_code == 303 and done.headers["location"] == "/inbox?done=rejected"
        [record] = await topic.wait_for_count(1)
        await topic.assert_no_more(1, quiet_s=0.3)
    payload = json.loads(record.value)["payload"]
    assert payload == {
        "verdict": "rejected",
        "reason_code": "no_budget",
        "note": "Spends next year",
        "rep_id": "rep-1",
    }
    after = await feedback.get("/inbox?done=rejected")
    assert "now rejected" in after.text and str(lead.lead_id) not in after.text
    made_up = await feedback.get("/inbox", params={"done": "hacked, call 555"})
    assert "hacked" not in made_up.text  # a link cannot put its own words on the page


@pytest.mark.asyncio
async def test_the_dashboard_shows_the_reports_and_each_table_downloads_as_csv(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = Journey()
    await publish(
        lead.captured(T0, campaign="spring"),
        lead.scored(T0 + timedelta(minutes=1), threshold=55),
        lead.mql(T0 + timedelta(minutes=1), threshold=55),
        lead.assigned(T0 + timedelta(minutes=2)),
        capacity(T0 + timedelta(minutes=3), total=12, queue=3),
    )
    await sign_in(feedback, api_keys["sales"])
    day = T0.date().isoformat()

    flow_row = f'<th scope="row">{day}</th><td>1</td><td>12</td>\n        <td>55'

    async def counted() -> httpx.Response | None:
        # The events travel on five topics and arrive in any order: wait for all of them.
        page = await feedback.get("/dashboard", params={"from": day, "to": day})
        done = all(
            part in page.text
            for part in ("Queue now: <strong>3</strong>", "lead 1, mql 1, sql 1", flow_row)
        )
        return page if done else None

    page = await wait_for(counted, message="the dashboard counts the lead")
    assert page.status_code == 200
    assert '<th scope="row">spring</th><td>1</td>' in page.text
    assert flow_row in page.text
    csv = await feedback.get("/dashboard/campaigns.csv", params={"from": day, "to": day})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    header, row = csv.text.splitlines()[:2]
    assert header.startswith("utm_campaign,leads,judged") and row.startswith("spring,1,0")
    bad = await feedback.get("/dashboard", params={"from": day, "to": "2020-01-01"})
    assert bad.status_code == 200 and "first day is after the last" in bad.text
    assert (await feedback.get("/dashboard/nope.csv")).status_code == 422
    assert T0.tzinfo is UTC


@pytest.mark.asyncio
async def test_models_shows_the_active_model_criteria_and_threshold_and_approves_per_side(
    settings: Settings, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(load_scoring_demo, settings.database_url, settings.secret_key)
    await asyncio.to_thread(load_routing_demo, settings.database_url, settings.secret_key)
    async with (
        served(create_scoring(settings)) as scoring_url,
        served(create_routing(settings)) as routing_url,
    ):
        monkeypatch.setenv("HANDOFF_SCORING_URL", scoring_url)
        monkeypatch.setenv("HANDOFF_ROUTING_URL", routing_url)
        async with (
            running(create_feedback(settings)) as feedback,
            httpx.AsyncClient(base_url=routing_url) as routing,
        ):
            draft = await routing.post(
                "/v1/criteria",
                json={"min_grade": "B", "excluded_countries": ["KP"]},
                headers=auth(api_keys["marketing"]),
            )
            assert draft.status_code == 201, draft.text
            version = draft.json()["version"]
            await sign_in(feedback, api_keys["marketing"])
            page = await feedback.get("/models")
            assert page.status_code == 200, page.text
            text = page.text
            assert "Active: demo-1" in text
            assert "Senior title (job title: head, vp, director" in text and "+20" in text
            assert "Demo request (demo request): +40, at most 40, halving every 30 days" in text
            assert "A lead becomes an MQL at a score of <strong>" in text and "Why:" in text
            assert "Grade C or better" in text  # the active criteria
            assert f"Awaiting approval: version {version}" in text and "Grade B or better" in text
            approve = f"/models/criteria/{version}/approve"
            assert f'action="{approve}"' in text
            assert (await feedback.post(approve, data={})).status_code == 403  # no CSRF token
            done = await feedback.post(approve, data={"csrf_token": token_of(page)})
            assert done.status_code == 303, done.text
            unknown = await feedback.post(
                "/models/criteria/999/approve", data={"csrf_token": token_of(page)}
            )
            assert unknown.status_code == 404 and "no such criteria version" in unknown.text
            [criteria] = [
                c
                for c in (
                    await routing.get("/v1/criteria", headers=auth(api_keys["marketing"]))
                ).json()
                if c["version"] == version
            ]
            assert criteria["approvals"] == {"marketing": "test marketing"}
            after = (await feedback.get("/models")).text
            assert f'action="{approve}"' not in after  # marketing has approved; sales has not
            await feedback.post("/signout", data={"csrf_token": token_of(after)})
            await sign_in(feedback, api_keys["sales"])
            assert f'action="{approve}"' in (await feedback.get("/models")).text
