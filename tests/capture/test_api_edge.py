"""Capture's request edge: database outages, OpenAPI, request ids, logs, metrics, the commit."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from handoff.embedded import free_port
from services.capture.app import create_app
from shared.problems import Conflict
from shared.service import UowDep
from shared.settings import Settings
from tests.capture.leads_helpers import LEAD, count_rows, sql
from tests.helpers import auth, running

pytestmark = pytest.mark.asyncio


async def test_connections_cut_by_the_database_are_replaced_without_an_error(
    settings: Settings, api_keys
):
    database = settings.database_url.rsplit("/", 1)[1].split("?")[0]
    headers = auth(api_keys["marketing"])
    async with running(create_app(settings)) as client:
        for _attempt in range(3):  # a new lead, a merge, and the ORM path's connections
            answer = await client.post("/v1/leads", json=LEAD, headers=headers)
            assert answer.status_code == 202
        await sql(
            settings,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :database AND pid <> pg_backend_pid()",
            database=database,
        )
        new = await client.post(
            "/v1/leads", json=LEAD | {"email": "after@example.com"}, headers=headers
        )
        merged = await client.post("/v1/leads", json=LEAD, headers=headers)
    assert (new.status_code, merged.status_code) == (202, 202), (new.text, merged.text)
    assert merged.json()["merged"] is True


async def test_an_unreachable_database_gets_503_with_retry_after(settings: Settings, api_keys):
    nowhere = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres"}
    )
    async with running(create_app(nowhere), wait_ready=False) as client:
        answer = await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ready = await client.get("/readyz")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["detail"] == "the database is unavailable; retry shortly"
    assert ready.status_code == 503


async def test_the_openapi_document_names_the_api_key_scheme(settings: Settings):
    async with running(create_app(settings), wait_ready=False) as client:
        document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["API key"]["scheme"] == "bearer"
    assert document["paths"]["/v1/leads"]["post"]["security"] == [{"API key": []}]


async def test_each_answer_carries_a_request_id_logged_once_and_counted_by_route(
    settings: Settings, api_keys, capsys
):
    headers = auth(api_keys["marketing"])
    async with running(create_app(settings)) as client:
        before = posted_leads((await client.get("/metrics")).text)
        chosen = await client.post(
            "/v1/leads", json=LEAD, headers=headers | {"X-Request-ID": "from-the-caller-1"}
        )
        fresh = await client.post("/v1/leads", json=LEAD, headers=headers)
        odd = await client.get("/v1/leads/x", headers=headers | {"X-Request-ID": "x" * 129})
        after = posted_leads((await client.get("/metrics")).text)
    assert chosen.headers["X-Request-ID"] == "from-the-caller-1"
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-ID"]), "too long: replaced"
    # The access line is written straight to stderr as JSON (shared.logs.info_line).
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    lines = [line for line in logged if line.get("logger") == "handoff.http"]
    by_id = {line["request_id"]: line for line in lines}
    assert by_id["from-the-caller-1"]["message"] == "POST /v1/leads 202"
    assert by_id[fresh.headers["X-Request-ID"]]["status"] == 202
    assert by_id[odd.headers["X-Request-ID"]]["route"] == "/v1/leads/{lead_id}"
    assert sum(line["request_id"] == "from-the-caller-1" for line in lines) == 1
    assert after - before == 2, "both posts counted under the route template"


def posted_leads(scraped: str) -> float:
    """The requests to POST /v1/leads answered 202 (the latency histogram's count), from the
    /metrics text."""
    counted = re.search(
        r'handoff_http_request_seconds_count\{[^}]*method="POST",route="/v1/leads",'
        r'service="capture",status="202"\} ([0-9.e+]+)',
        scraped,
    )
    return float(counted.group(1)) if counted else 0.0


async def test_the_request_edge_commits_a_route_s_writes_or_rolls_them_back_when_it_raises(
    settings: Settings,
):
    app = create_app(settings)

    async def write(form_id: str, uow: UowDep, fail: bool = False) -> dict[str, str]:
        await uow.session.execute(
            text(
                "INSERT INTO capture.forms (id, name, field_mapping, required_fields, "
                "allowed_origins, consent_required, honeypot_field) "
                "VALUES (:id, 'Edge', '{}', '[]', '[]', false, 'website')"
            ),
            {"id": form_id},
        )
        if fail:
            raise Conflict.of("refused after writing", "fail", "was set")
        return {"written": form_id}

    app.add_api_route("/test/edge/{form_id}", write, methods=["POST"])
    async with running(app) as client:
        kept = await client.post("/test/edge/kept")
        assert kept.status_code == 200, kept.text
        assert await count_rows(settings, "forms", "id = 'kept'") == 1, (
            "committed before the answer"
        )
        refused = await client.post("/test/edge/refused", params={"fail": "true"})
    assert refused.status_code == 409, refused.text
    assert await count_rows(settings, "forms", "id = 'refused'") == 0, "rolled back"
