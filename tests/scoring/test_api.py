"""Scoring's API on a running app: the model lifecycle, a lead's explained score, the threshold."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.demo_scoring import DEMO_MODEL
from services.scoring.app import create_app
from services.scoring.handlers.capacity import record_capacity
from services.scoring.handlers.leads import record_activity, record_capture
from shared.settings import Settings
from tests.helpers import UowFactory, auth, running, wait_for
from tests.scoring.conftest import activity, capacity, captured

pytestmark = pytest.mark.asyncio

YAML = {"Content-Type": "application/yaml"}
V2 = DEMO_MODEL.replace("version: demo-1", "version: v2")


def as_(key: str, **headers: str) -> dict[str, str]:
    return auth(key) | headers


async def test_a_model_goes_live_only_with_both_approvals(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    marketing, sales, admin = api_keys["marketing"], api_keys["sales"], api_keys["admin"]
    async with running(create_app(settings)) as client:
        created = await client.post("/v1/models", content=V2, headers=as_(marketing, **YAML))
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "draft"
        assert created.json()["created_by"] == "test marketing"

        approved = await client.post("/v1/models/v2/approve", headers=auth(marketing))
        assert approved.json()["missing_approvals"] == ["sales"]
        refused = await client.post("/v1/models/v2/activate", headers=auth(marketing))
        assert refused.status_code == 409
        assert "sales approval" in refused.json()["detail"]
        assert refused.json()["errors"] == [
            {"field": "approvals.sales", "reason": "missing the sales approval"}
        ]
        assert (await client.post("/v1/models/v2/approve", headers=auth(admin))).status_code == 403

        approved = await client.post("/v1/models/v2/approve", headers=auth(sales))
        assert approved.json()["status"] == "approved"
        assert approved.json()["approvals"]["sales"]["by"] == "test sales"

        # editing clears both approvals
        edited = V2.replace("ceiling: 80", "ceiling: 85")
        changed = await client.put("/v1/models/v2", content=edited, headers=as_(sales, **YAML))
        assert changed.status_code == 200, changed.text
        assert changed.json()["status"] == "draft"
        assert changed.json()["missing_approvals"] == ["marketing", "sales"]
        assert changed.json()["document"]["threshold"]["ceiling"] == 85

        for key in (sales, marketing):
            await client.post("/v1/models/v2/approve", headers=auth(key))
        live = await client.post("/v1/models/v2/activate", headers=auth(sales))
        assert live.status_code == 202, live.text
        assert live.json()["status"] == "active"
        assert live.json()["rescoring"] == {"done": 0, "total": 0, "finished": True}
        history = [h["action"] for h in live.json()["history"]]
        assert history == [
            "created",
            "approved:marketing",
            "approved:sales",
            "edited",
            "approved:sales",
            "approved:marketing",
            "activated",
        ]
        assert (
            await client.put("/v1/models/v2", content=edited, headers=as_(sales, **YAML))
        ).status_code == 409
        listed = await client.get("/v1/models", headers=auth(marketing))
        assert [m["status"] for m in listed.json()] == ["active"]


async def test_a_bad_document_is_refused_with_every_path(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    marketing = api_keys["marketing"]
    bad = V2.replace("points: 20,", "points: lots,").replace("floor: 30", "floor: 95")
    async with running(create_app(settings)) as client:
        refused = await client.post("/v1/models", content=bad, headers=as_(marketing, **YAML))
        assert refused.status_code == 422
        fields = {e["field"] for e in refused.json()["errors"]}
        assert fields == {"fit_rules.0.points", "threshold"}
        as_json = await client.post(
            "/v1/models",
            content=json.dumps({"version": "x"}),
            headers=as_(marketing, **{"Content-Type": "application/json"}),
        )
        assert {e["field"] for e in as_json.json()["errors"]} == {"grades", "threshold", "recycle"}
        wrong = await client.post("/v1/models", content="x", headers=as_(marketing))
        assert wrong.status_code == 415
        crm = await client.post("/v1/models", content=V2, headers=as_(api_keys["crm"], **YAML))
        assert crm.status_code == 403
        assert (await client.get("/v1/models/none", headers=auth(marketing))).status_code == 404
        await client.post("/v1/models", content=V2, headers=as_(marketing, **YAML))
        twice = await client.post("/v1/models", content=V2, headers=as_(marketing, **YAML))
        assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "version"


@pytest.mark.usefixtures("demo_model")
async def test_a_leads_score_and_the_threshold_explain_themselves(
    settings: Settings, api_keys: dict[str, str], uow: UowFactory
) -> None:
    lead = captured()
    async with uow() as unit:
        await record_capture(lead, unit)
    async with uow() as unit:
        await record_activity(activity(lead.lead_id, "page_view", url="/pricing"), unit)
    sales = api_keys["sales"]
    async with running(create_app(settings)) as client:
        score = (await client.get(f"/v1/leads/{lead.lead_id}/score", headers=auth(sales))).json()
        assert (score["total"], score["fit"], score["engagement"], score["grade"]) == (
            61,
            50,
            11,
            "A",
        )
        assert score["state"] == "mql" and score["model_version"] == "demo-1"
        assert score["threshold"] == 60
        pricing = next(r for r in score["rules"] if r["rule"] == "pricing_url")
        assert pricing == {
            "rule": "pricing_url",
            "kind": "engagement",
            "points": 10,
            "count": 1,
            "raw": 10.0,
            "decayed": 10.0,
        }
        t = (await client.get("/v1/threshold", headers=auth(sales))).json()
        assert (t["floor"], t["base"], t["ceiling"], t["effective"], t["free_slots"]) == (
            30,
            60,
            80,
            60,
            None,
        )
        assert t["reason"] == "no sales capacity is known yet; the base threshold 60 applies"
        async with uow() as unit:
            await record_capacity(capacity("emea", free=4, queue=1), unit)
        t = (await client.get("/v1/threshold", headers=auth(sales))).json()
        assert (t["effective"], t["free_slots"], t["held"], t["capacity_team"]) == (
            30,
            3,
            0,
            "emea",
        )
        assert t["reason"].startswith("sales has 3 free slots and 0 held leads")
        malformed = await client.get("/v1/leads/not-a-uuid/score", headers=auth(sales))
        assert malformed.status_code == 422
        assert malformed.json()["errors"][0]["field"] == "lead_id"
        unknown = await client.get(f"/v1/leads/{uuid.uuid4()}/score", headers=auth(sales))
        assert unknown.status_code == 404


@pytest.mark.usefixtures("demo_model")
async def test_activation_rescores_every_lead_in_the_background(
    settings: Settings, api_keys: dict[str, str], uow: UowFactory, engine: AsyncEngine
) -> None:
    for i in range(30):
        async with uow() as unit:
            await record_capture(captured(email=f"p{i}@example.com"), unit)
    marketing, sales = api_keys["marketing"], api_keys["sales"]
    async with running(create_app(settings)) as client:
        await client.post("/v1/models", content=V2, headers=as_(marketing, **YAML))
        for key in (marketing, sales):
            await client.post("/v1/models/v2/approve", headers=auth(key))
        live = await client.post("/v1/models/v2/activate", headers=auth(marketing))
        assert live.json()["rescoring"]["total"] == 30

        async def finished() -> bool:
            body = (await client.get("/v1/models/v2", headers=auth(sales))).json()
            return bool(body["rescoring"]["finished"] and body["rescoring"]["done"] == 30)

        await wait_for(finished, message="rescoring to finish")  # type: ignore[arg-type]
        old = (await client.get("/v1/models/demo-1", headers=auth(sales))).json()
        assert old["status"] == "retired" and old["retired_at"] is not None


async def test_keys_are_required(settings: Settings) -> None:
    async with running(create_app(settings)) as client:
        assert (await client.get("/v1/threshold")).status_code == 401
        response: httpx.Response = await client.get("/v1/models")
        assert response.status_code == 401
