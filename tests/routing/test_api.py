"""Routing's HTTP API: organisation import and admin, criteria approval, explanations, lists."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient

from services.routing.app import create_app
from shared.events import LeadAssignedEvent, LeadQueuedEvent
from tests.helpers import auth, reading, running, wait_for
from tests.routing.conftest import Routing, mql, rep, team

pytestmark = pytest.mark.asyncio

ORG_YAML = """\
teams:
  - id: emea
    name: EMEA
    strategy: least_loaded
    sla_minutes: 45
    escalation_contact: emea-lead@sales.example
  - {id: world, name: World, fallback: true}
reps:
  - id: rep-1
    email: rep-1@sales.example
    name: Rep One
    team: emea
    capacity: 1
    territories: [GB, IE]
    timezone: Europe/London
    working_hours: always
  - id: rep-2
    email: rep-2@sales.example
    name: Rep Two
    team: emea
    capacity: 3
    territories: [DE]
    timezone: Europe/Berlin
    working_hours: always
    out_of_office:
      - {start: "2020-01-01T00:00:00Z", end: "2099-01-01T00:00:00Z"}
rules:
  - {name: uk-ie, team: emea, countries: [GB, IE]}
"""

BAD_YAML = """\
teams:
  - {id: emea, name: EMEA}
reps:
  - id: ok
    email: ok@sales.example
    name: OK
    team: emea
    capacity: 1
    timezone: UTC
    working_hours: always
  - id: bad
    email: not-an-email
    name: Bad
    team: nowhere
    capacity: -1
    timezone: Mars/Olympus
    working_hours: always
"""

REPS_CSV = """\
id,email,name,team,capacity,territories,timezone,working_hours,out_of_office
c-1,c1@sales.example,C One,emea,2,GB|IE,Europe/London,mon-fri 09:00-17:00,
c-2,c2@sales.example,C Two,emea,x,FR,Europe/Paris,always,2026-12-24T00:00Z/2026-12-27T00:00Z
c-3,c3@sales.example,C Three,emea,2,,Europe/Paris,mon-fri 9-5,
"""


async def _import(client: AsyncClient, key: str, body: str, kind: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/reps/import", content=body, headers=auth(key) | {"Content-Type": kind}
    )
    return {"status": response.status_code, "body": response.json()}


async def test_import_yaml_then_read_teams_reps_and_rules(
    routing: Routing, api_keys: dict[str, str]
) -> None:
    async with running(create_app(routing.settings), wait_ready=False) as client:
        done = await _import(client, api_keys["admin"], ORG_YAML, "application/yaml")
        assert done == {"status": 200, "body": {"teams": 2, "reps": 2, "rules": 1}}
        reader = auth(api_keys["marketing"])
        teams = {t["id"]: t for t in (await client.get("/v1/teams", headers=reader)).json()}
        assert teams["emea"]["sla_minutes"] == 45 and teams["world"]["fallback"]
        assert teams["emea"]["capacity"] == {
            "reps_available": 1,  # rep-2 is out of office
            "total_capacity": 1,
            "open_load": 0,
            "free_slots": 1,
            "queue_length": 0,
            "oldest_queued_age_s": None,
        }
        reps = {r["id"]: r for r in (await client.get("/v1/reps", headers=reader)).json()}
        assert reps["rep-1"]["territories"] == ["GB", "IE"]
        assert (reps["rep-1"]["on_duty"], reps["rep-2"]["on_duty"]) == (True, False)
        rules = (await client.get("/v1/rules", headers=reader)).json()
        assert [(r["name"], r["team"], r["position"]) for r in rules] == [("uk-ie", "emea", 1)]


async def test_a_bad_file_names_each_line_and_changes_nothing(
    routing: Routing, api_keys: dict[str, str]
) -> None:
    async with running(create_app(routing.settings), wait_ready=False) as client:
        refused = await _import(client, api_keys["admin"], BAD_YAML, "application/yaml")
        assert refused["status"] == 422
        errors = {e["field"]: e["reason"] for e in refused["body"]["errors"]}
        assert errors["reps[1].email"].startswith("line 11: ")
        assert errors["reps[1].capacity"].startswith("line 11: ")
        assert "Mars/Olympus" in errors["reps[1].timezone"]
        refused = await _import(client, api_keys["admin"], REPS_CSV, "text/csv")
        errors = {e["field"]: e["reason"] for e in refused["body"]["errors"]}
        assert set(errors) == {"reps[1].capacity", "reps[2].working_hours"}
        assert errors["reps[1].capacity"].startswith("line 3: ")
        assert errors["reps[2].working_hours"].startswith("line 4: 'mon-fri 9-5' is not like")
        # Valid rows referring to a team that does not exist: refused as a whole.
        good_rows = REPS_CSV.splitlines()[:2]
        refused = await _import(client, api_keys["admin"], "\n".join(good_rows), "text/csv")
        assert refused["status"] == 422
        assert refused["body"]["errors"] == [{"field": "reps[0].team", "reason": "no team 'emea'"}]
        reps = await client.get("/v1/reps", headers=auth(api_keys["admin"]))
        assert reps.json() == []
        ragged = await _import(client, api_keys["admin"], "id,email\nx,y,z\n", "text/csv")
        assert ragged["body"]["errors"] == [
            {"field": "reps[0]", "reason": "line 2: more cells than columns"}
        ]
        garbage = await _import(client, api_keys["admin"], "teams: [", "application/yaml")
        assert garbage["status"] == 422
        wrong = await _import(client, api_keys["admin"], "x", "text/plain")
        assert wrong["status"] == 415


async def test_admin_routes_need_an_admin_key(routing: Routing, api_keys: dict[str, str]) -> None:
    async with running(create_app(routing.settings), wait_ready=False) as client:
        assert (await client.get("/v1/reps")).status_code == 401
        refused = await _import(client, api_keys["sales"], ORG_YAML, "application/yaml")
        assert refused["status"] == 403
        put = await client.put(
            "/v1/teams/emea", json=team("other"), headers=auth(api_keys["admin"])
        )
        assert put.status_code == 422 and put.json()["errors"][0]["field"] == "id"
        put = await client.put("/v1/teams/emea", json=team(), headers=auth(api_keys["admin"]))
        assert put.status_code == 200
        body = rep("rep-9") | {"territories": ["Great Britain"]}
        put = await client.put("/v1/reps/rep-9", json=body, headers=auth(api_keys["admin"]))
        assert put.status_code == 422
        assert put.json()["errors"][0]["field"] == "territories.0"


async def test_criteria_need_both_sides_and_editing_clears_approvals(
    routing: Routing, api_keys: dict[str, str]
) -> None:
    marketing, sales = auth(api_keys["marketing"]), auth(api_keys["sales"])
    async with running(create_app(routing.settings), wait_ready=False) as client:
        draft = await client.post("/v1/criteria", json={"min_grade": "B"}, headers=marketing)
        assert draft.status_code == 201
        version = draft.json()["version"]
        once = await client.post(f"/v1/criteria/{version}/approvals", headers=marketing)
        assert once.json()["approvals"] == {"marketing": "test marketing"}
        assert once.json()["missing_approvals"] == ["sales"]
        edited = await client.put(f"/v1/criteria/{version}", json={"min_grade": "A"}, headers=sales)
        assert (edited.json()["approvals"], edited.json()["status"]) == ({}, "draft")
        admin = await client.post(
            f"/v1/criteria/{version}/approvals", headers=auth(api_keys["admin"])
        )
        assert admin.status_code == 403
        for side in (sales, marketing):
            approved = await client.post(f"/v1/criteria/{version}/approvals", headers=side)
        assert approved.json()["status"] == "active"
        assert approved.json()["rules"]["min_grade"] == "A"
        late = await client.put(f"/v1/criteria/{version}", json={}, headers=sales)
        assert late.status_code == 409
        bad = await client.post(
            "/v1/criteria", json={"required_fields": ["shoe_size"]}, headers=sales
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "required_fields"
        missing = await client.post("/v1/criteria/99/approvals", headers=sales)
        assert missing.status_code == 404


async def test_explanations_assignments_and_queue(
    routing: Routing, api_keys: dict[str, str]
) -> None:
    await routing.load(
        teams=[team("emea", fallback=True)],
        reps=[
            rep("rep-1", capacity=1),
            rep("rep-2", territories=["DE"]),
            rep("rep-3", active=False),
        ],
    )
    first, second = mql(), mql(score=55)
    marketing = auth(api_keys["marketing"])
    bootstrap = routing.settings.kafka_bootstrap
    async with (
        running(create_app(routing.settings)) as client,
        reading(bootstrap, routing.topic(LeadAssignedEvent)) as assigned,
        reading(bootstrap, routing.topic(LeadQueuedEvent)) as queued,
    ):
        await routing.send(first)
        await assigned.wait_for_count(1)
        await routing.send(second)
        await queued.wait_for_count(1)
        explained = await client.get(f"/v1/leads/{first.lead_id}/routing", headers=marketing)
        body = explained.json()
        assert (body["outcome"], body["explanation"]["rule"]) == ("assigned", "fallback")
        assert body["explanation"]["chosen_rep_id"] == "rep-1"
        assert body["explanation"]["candidates"] == [
            {"rep_id": "rep-1", "eligible": True, "skipped": []},
            {"rep_id": "rep-2", "eligible": False, "skipped": ["territory"]},
            {"rep_id": "rep-3", "eligible": False, "skipped": ["inactive"]},
        ]
        assert body["explanation"]["criteria"]["passed"] is True
        waiting = await client.get(f"/v1/leads/{second.lead_id}/routing", headers=marketing)
        assert (waiting.json()["outcome"], waiting.json()["queue_position"]) == ("queued", 1)
        assert waiting.json()["explanation"]["candidates"][0]["skipped"] == ["full"]
        queue = (await client.get("/v1/queue", headers=marketing)).json()
        assert [q["lead_id"] for q in queue["items"]] == [str(second.lead_id)]
        page = (await client.get("/v1/assignments?rep_id=rep-1", headers=marketing)).json()
        assert [a["lead_id"] for a in page["items"]] == [str(first.lead_id)]
        assert page["next_offset"] is None
        mine = await client.get("/v1/assignments", headers=auth(api_keys["sales"]))
        assert len(mine.json()["items"]) == 1  # the sales key acts for rep-1
        theirs = await client.get("/v1/assignments?rep_id=rep-2", headers=auth(api_keys["sales"]))
        assert theirs.status_code == 403
        unknown = await client.get(f"/v1/leads/{uuid.uuid4()}/routing", headers=marketing)
        assert unknown.status_code == 404

        async def gauged() -> bool:
            text = (await client.get("/metrics")).text
            return 'handoff_routing_queue_length{team="emea"} 1.0' in text

        await wait_for(gauged, message="queue length on /metrics")
