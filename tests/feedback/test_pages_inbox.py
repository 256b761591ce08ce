"""A rep's inbox page: only their own leads, verdicts through the same rules as the API."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from shared.settings import Settings
from tests.feedback.conftest import T0, Publish
from tests.feedback.pages_helpers import sign_in, token_of
from tests.feedback.test_api import assigned_lead, stage_of
from tests.helpers import reading, wait_for


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
