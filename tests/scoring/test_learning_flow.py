"""The synthetic truth fed through capture -> scoring -> synthetic verdicts: the leads and their
demo requests are posted to capture's API (capture running in-process beside scoring, on the
test's broker and database), scoring scores what capture publishes, and sales' verdicts arrive on
lead.feedback.v1 as feedback emits them. The calibration finds the planted facts, the proposal
becomes a draft that still needs both approvals, and its backtest separates better than the
active model's.

The verdicts are events, not `POST /v1/feedback`: feedback takes a verdict only from the rep a
lead is assigned to, and most synthetic leads never reach sales (they are the non-MQLs whose
labels the calibration needs as much as the MQLs')."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.capture.app import create_app as create_capture
from services.scoring import synthetic
from services.scoring.app import create_app as create_scoring
from services.scoring.repository import install_active_model
from shared.settings import Settings
from tests.helpers import auth, running, wait_for
from tests.scoring.conftest import capacity, sql

pytestmark = pytest.mark.asyncio
LEADS = 200


async def count(engine: AsyncEngine, statement: str) -> int:
    [(n,)] = await sql(engine, statement)
    return int(n)


async def test_calibration_finds_the_planted_truth_and_the_draft_backtests_better(
    settings: Settings,
    api_keys: dict[str, str],
    engine: AsyncEngine,
    produce: Callable[..., Any],
) -> None:
    started = time.monotonic()
    assert await install_active_model(settings.database_url, synthetic.MODEL, by="test")
    marketing, sales = auth(api_keys["marketing"]), auth(api_keys["sales"])
    async with (
        running(create_capture(settings)) as capture,
        running(create_scoring(settings)) as client,
    ):
        await produce(capacity("team-a", 40, at=datetime.now(UTC) - timedelta(minutes=5)))
        leads = []
        for lead in synthetic.generate(LEADS, seed=7):
            answer = await capture.post(
                "/v1/leads", json=synthetic.lead_body(lead), headers=marketing
            )
            assert answer.status_code == 202 and not answer.json()["merged"], answer.text
            leads.append(dataclasses.replace(lead, lead_id=answer.json()["lead_id"]))
        for lead in leads:
            for body in synthetic.activity_bodies(lead, lead.lead_id):
                answer = await capture.post("/v1/activities", json=body, headers=marketing)
                assert answer.status_code == 202, answer.text
        demos = sum(1 for lead in leads if lead.demo)
        await _until(engine, LEADS, demos)
        await produce(*(synthetic.verdict(lead) for lead in leads))
        await _until_outcomes(engine, LEADS)

        found = await client.get("/v1/models/synthetic-1/calibration", headers=sales)
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["outcomes"] == LEADS and body["minimum_outcomes"] == 30
        rules = {r["rule"]: r for r in body["rules"]}
        assert rules["blast_campaign"]["change"] < 0, rules["blast_campaign"]
        assert rules["architect_title"]["change"] > 0, rules["architect_title"]
        blast = rules["blast_campaign"]
        assert (
            blast["acceptance"]["low"] <= blast["acceptance"]["rate"] <= blast["acceptance"]["high"]
        )
        assert {b["band"] for b in body["grades"]} <= {"A", "B", "C", "D"}
        assert sum(b["acceptance"]["outcomes"] for b in body["score_bands"]) == LEADS

        drift = (await client.get("/v1/drift", headers=marketing)).json()["items"]
        campaigns = {d["key"]: d for d in drift if d["dimension"] == "utm_campaign"}
        assert set(campaigns) == set(synthetic.CAMPAIGNS)  # capture's attribution reached scoring
        assert (
            sum(
                d["counts"]["this"]["good"] + d["counts"]["this"]["bad"] for d in campaigns.values()
            )
            == LEADS
        )
        metrics = (await client.get("/metrics")).text
        assert (
            'handoff_scoring_separation_auc{dimension="source",key="paid",month="this"}' in metrics
        )

        proposed = await client.post(
            "/v1/models/synthetic-1/proposals", json={"version": "synthetic-2"}, headers=marketing
        )
        assert proposed.status_code == 201, proposed.text
        draft = proposed.json()
        assert (draft["status"], draft["missing_approvals"]) == ("draft", ["marketing", "sales"])
        points = {r["id"]: r["points"] for r in draft["document"]["fit_rules"]}
        assert points["blast_campaign"] < 10 and points["architect_title"] > 5
        refused = await client.post("/v1/models/synthetic-2/activate", headers=marketing)
        assert refused.status_code == 409  # still needs both approvals

        now = datetime.now(UTC)
        window = {
            "from": (now - timedelta(days=1)).isoformat(),
            "to": (now + timedelta(days=1)).isoformat(),
        }
        asked = await client.post("/v1/models/synthetic-2/backtest", json=window, headers=sales)
        assert asked.status_code == 202, asked.text
        assert (asked.json()["baseline"], asked.json()["total"]) == ("synthetic-1", LEADS)
        address = f"/v1/backtests/{asked.json()['id']}"
        result = await wait_for(
            lambda: _done(client, address, sales), timeout_s=60, message="backtest done"
        )
        mine, active = result["version"], result["baseline"]
        assert (mine["version"], active["version"]) == ("synthetic-2", "synthetic-1")
        assert mine["leads"] == active["leads"] == LEADS and mine["judged"] == LEADS
        assert mine["auc"] > active["auc"] + 0.05, (mine["auc"], active["auc"])
        weeks = [w for w in mine["weeks"] if w["leads"]]
        assert [w["capacity"] for w in weeks] == [40] and weeks[0]["precision_at_capacity"]
    print(f"learning flow through capture: {LEADS} leads in {time.monotonic() - started:.1f} s")


async def _until(engine: AsyncEngine, leads: int, demos: int) -> None:
    async def ready() -> bool:
        scored = await count(
            engine, "SELECT count(*) FROM scoring.leads WHERE explanation IS NOT NULL"
        )
        kept = await count(engine, "SELECT count(*) FROM scoring.activities")
        return scored == leads and kept == demos

    await wait_for(ready, timeout_s=120, message="every lead scored, every demo request kept")


async def _until_outcomes(engine: AsyncEngine, leads: int) -> None:
    async def ready() -> bool:
        return await count(engine, "SELECT count(*) FROM scoring.outcomes") == leads

    await wait_for(ready, timeout_s=120, message="every verdict kept as an outcome")


async def _done(client: httpx.AsyncClient, address: str, key: dict[str, str]) -> Any:
    answer = (await client.get(address, headers=key)).json()
    return answer["result"] if answer["status"] == "done" else None
