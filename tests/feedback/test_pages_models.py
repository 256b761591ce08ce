"""The models page: the active scoring model, routing's criteria, approvals per side."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from handoff.demo_routing import load_routing_demo
from handoff.demo_scoring import load_scoring_demo
from services.feedback.app import create_app as create_feedback
from services.routing.app import create_app as create_routing
from services.scoring.app import create_app as create_scoring
from shared.settings import Settings
from tests.e2e.test_journey import served
from tests.feedback.pages_helpers import sign_in, token_of
from tests.helpers import auth, running


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
