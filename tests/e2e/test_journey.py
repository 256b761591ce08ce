"""The whole journey in a real browser (Debian chromium through Playwright): a person fills the
demo form, the lead is scored, qualified and assigned by the real services on the real broker
and PostgreSQL, the rep signs in to `/inbox` and rejects it by clicking, and the verdict reaches
`lead.feedback.v1`, frees routing's slot and is counted on `/dashboard`. A screenshot of each
page (desktop and phone-sized) is saved under the test's temporary folder."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from handoff.demo import DEMO_FORM_ID, load_demo
from handoff.demo_routing import load_routing_demo
from handoff.demo_scoring import load_scoring_demo
from handoff.keys import create_api_key
from services.capture.app import create_app as create_capture
from services.feedback.app import create_app as create_feedback
from services.routing.app import create_app as create_routing
from services.scoring.app import create_app as create_scoring
from shared.auth import Role
from shared.settings import Settings
from tests.browser import chromium, needs_chromium, served, snap
from tests.helpers import auth, reading, wait_for

pytestmark = pytest.mark.asyncio


@pytest.mark.browser
@needs_chromium
async def test_a_lead_from_the_form_to_a_rejection_in_the_inbox_and_on_the_dashboard(
    settings: Settings, api_keys: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(load_scoring_demo, settings.database_url, settings.secret_key)
    await asyncio.to_thread(load_routing_demo, settings.database_url, settings.secret_key)
    marketing = api_keys["marketing"]
    async with (
        served(create_capture(settings)) as capture_url,
        served(create_scoring(settings)) as scoring_url,
        served(create_routing(settings)) as routing_url,
        served(create_feedback(settings)) as feedback_url,
        httpx.AsyncClient(base_url=routing_url) as routing,
        reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1")) as captured,
        reading(settings.kafka_bootstrap, settings.topic("lead.assigned.v1")) as assigned,
        reading(settings.kafka_bootstrap, settings.topic("lead.feedback.v1")) as verdicts,
        chromium() as browser,
    ):
        await asyncio.to_thread(load_demo, capture_url, api_keys["admin"])
        page = await browser.new_page()
        # /models asks scoring and routing over HTTP (read per request)
        monkeypatch.setenv("HANDOFF_SCORING_URL", scoring_url)
        monkeypatch.setenv("HANDOFF_ROUTING_URL", routing_url)

        # 1. a person asks for a demo in the browser
        await page.goto(f"{capture_url}/v1/forms/{DEMO_FORM_ID}/page?utm_campaign=journey")
        await snap(page, tmp_path, "1-form")
        await page.get_by_label("Email").fill("katherine.johnson@orbits.example")
        await page.get_by_label("First name").fill("Katherine")
        await page.get_by_label("Last name").fill("Johnson")
        await page.get_by_label("Company").fill("Orbits Ltd")
        await page.get_by_label("Job title").fill("Head of Flight Research")
        await page.get_by_label("Country").fill("United Kingdom")
        await page.get_by_label("I agree", exact=False).check()
        await page.get_by_role("button", name="Send").click()
        await page.wait_for_url("**/thank-you")
        [record] = await captured.wait_for_count(1, timeout_s=30)
        lead_id = json.loads(record.value)["lead_id"]

        # ... and, as the product site reports, watches the pricing page and asks for the demo
        async with httpx.AsyncClient(base_url=capture_url) as capture_api:
            for activity in ("pricing_page_view", "demo_request"):
                answer = await capture_api.post(
                    "/v1/activities",
                    json={
                        "lead_id": lead_id,
                        "activity_type": activity,
                        "happened_at": datetime.now(UTC).isoformat(),
                    },
                    headers=auth(marketing),
                )
                assert answer.status_code == 202, answer.text

        # 2. scored, qualified and assigned by the services
        [record] = await assigned.wait_for_count(1, timeout_s=60)
        rep = json.loads(record.value)["payload"]["rep_id"]
        _, rep_key = await create_api_key(
            settings.database_url, settings.secret_key, role=Role.sales, name=rep, rep_id=rep
        )

        # 3. the rep signs in and finds the lead in their inbox
        await page.goto(f"{feedback_url}/inbox")
        await page.wait_for_url("**/signin?next=%2Finbox")
        await snap(page, tmp_path, "2-signin")
        await page.get_by_label("API key").fill(rep_key)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/inbox")
        card = page.locator(f"#lead-{lead_id}")

        async def in_inbox() -> bool:
            await page.reload()
            return await card.count() == 1

        await wait_for(in_inbox, timeout_s=30, interval_s=0.3, message="the lead in the inbox")
        await card.get_by_text("Demo request: +40").wait_for()
        assert "left" in (await card.locator("time").text_content() or "")
        await snap(page, tmp_path, "3-inbox")

        # 4. rejects it with a reason and a note, by clicking (the keyboard opens the form)
        await card.get_by_text("Reject…").focus()
        await page.keyboard.press("Enter")
        await card.get_by_label("Reason").first.select_option("no_budget")
        await card.get_by_label("Note").first.fill("Budget frozen until next year")
        await snap(page, tmp_path, "4-reject-form")
        await card.get_by_role("button", name="Reject lead").click()
        await page.wait_for_url("**/inbox?done=rejected")
        assert await page.get_by_role("status").text_content() == "Saved: the lead is now rejected."
        assert await page.locator(f"#lead-{lead_id}").count() == 0
        await snap(page, tmp_path, "5-inbox-after")

        # 5. the verdict is on lead.feedback.v1, routing frees the slot, the dashboard counts it
        [sent] = await verdicts.wait_for_count(1, timeout_s=30)
        event = json.loads(sent.value)
        assert event["lead_id"] == lead_id
        assert event["payload"] == {
            "verdict": "rejected",
            "reason_code": "no_budget",
            "note": "Budget frozen until next year",
            "rep_id": rep,
        }

        async def slot_freed() -> bool:
            routed = await routing.get(f"/v1/leads/{lead_id}/routing", headers=auth(marketing))
            return routed.status_code == 200 and all(
                a["status"] == "closed" for a in routed.json()["assignments"]
            )

        await wait_for(slot_freed, timeout_s=30, message="routing frees the slot")

        await page.get_by_role("link", name="Dashboard").click()
        await page.wait_for_url("**/dashboard")
        row = page.locator("#h-campaigns + div tbody tr", has_text="journey")
        cells = await row.locator("td").all_text_contents()
        assert cells[:2] == ["1", "1"] and cells[3] == "1", cells  # leads, judged, rejected
        reasons = await page.locator("#h-reasons + div tbody tr").all_text_contents()
        assert any("no budget" in r and "rejected" in r for r in reasons), reasons
        await snap(page, tmp_path, "6-dashboard")

        # 6. both teams read the model and criteria behind the decision
        await page.get_by_role("link", name="Models").click()
        await page.wait_for_url("**/models")
        await page.get_by_text("Active: demo-1").wait_for()
        await page.get_by_text("Grade C or better").wait_for()
        await snap(page, tmp_path, "7-models")
