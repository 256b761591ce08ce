"""Capture's lead API against the real database and broker."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import text

from handoff.embedded import free_port
from services.capture.app import create_app
from shared.db import create_engine
from shared.problems import Conflict
from shared.service import UowDep
from shared.settings import Settings
from tests.helpers import auth, reading, running

pytestmark = pytest.mark.asyncio

JSON = {"Content-Type": "application/json"}

LEAD = {
    "email": "Ada.Lovelace@Example.COM",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines",
    "country": "gb",
    "phone": "+44 20 7123 4567",
    "consent": {"given": True, "text_version": "2026-01"},
    "attribution": {"utm_source": "newsletter", "utm_campaign": "launch"},
}


async def count_rows(settings: Settings, table: str, where: str = "true", **params) -> int:
    return await sql(settings, f"SELECT count(*) FROM capture.{table} WHERE {where}", **params)


async def sql(settings: Settings, statement: str, **params):
    """Run one statement in its own committed transaction; the first column of the first row."""
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def test_a_posted_lead_appears_on_lead_captured(settings: Settings, api_keys):
    topic = settings.topic("lead.captured.v1")
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, topic) as captured,
    ):
        answer = await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["lead_id"]
        assert answer.json()["merged"] is False
        [record] = await captured.wait_for_count(1)
    assert record.key == lead_id.encode()
    event = json.loads(record.value)
    assert event["event_type"] == "lead.captured" and event["producer"] == "capture"
    assert event["lead_id"] == event["correlation_id"] == lead_id
    contact = event["payload"]["contact"]
    assert contact["email"] == "Ada.Lovelace@example.com"
    assert (contact["country"], contact["phone"]) == ("GB", "+442071234567")
    assert event["payload"]["consent"]["given"] is True
    assert event["payload"]["first_touch"]["utm_campaign"] == "launch"


async def test_a_second_submission_merges_into_the_same_lead(settings: Settings, api_keys):
    topic = settings.topic("lead.captured.v1")
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, topic) as captured,
    ):
        first = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()
        again = {
            **LEAD,
            "email": "ada.lovelace@example.com",
            "job_title": "Countess",
            "attribution": {"utm_source": "webinar"},
        }
        second = (await client.post("/v1/leads", json=again, headers=auth(api_keys["crm"]))).json()
        records = await captured.wait_for_count(2)
    assert second == {"lead_id": first["lead_id"], "merged": True}
    merged = json.loads(records[-1].value)["payload"]
    assert merged["merged"] is True
    assert merged["contact"]["job_title"] == "Countess"
    assert merged["contact"]["first_name"] == "Ada"
    assert merged["first_touch"]["utm_source"] == "newsletter"
    assert merged["last_touch"]["utm_source"] == "webinar"
    assert await count_rows(settings, "leads") == 1
    assert await count_rows(settings, "lead_changes") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "phone": "12"}, "phone"),
        ({"email": "a@example.com", "country": "Atlantis"}, "country"),
        ({"email": "a@example.com", "unknown": "x"}, "unknown"),
        ({"first_name": "Ada"}, "email"),
    ],
)
async def test_invalid_leads_get_422_naming_the_field_and_nothing_is_written(
    settings: Settings, api_keys, body: dict, field: str
):
    async with running(create_app(settings)) as client:
        answer = await client.post("/v1/leads", json=body, headers=auth(api_keys["marketing"]))
    assert answer.status_code == 422
    problems = answer.json()["errors"]
    assert field in [p["field"] for p in problems], problems
    assert all(p["reason"] for p in problems)
    assert await count_rows(settings, "leads") == 0
    assert await count_rows(settings, "outbox") == 0


async def test_the_lead_api_needs_a_key_of_a_role_that_may_capture(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        none = await client.post("/v1/leads", json=LEAD)
        unknown = await client.post("/v1/leads", json=LEAD, headers=auth("hk_not-a-key"))
        sales = await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["sales"]))
        header = await client.post("/v1/leads", json=LEAD, headers={"X-API-Key": api_keys["admin"]})
    assert (none.status_code, unknown.status_code, sales.status_code) == (401, 401, 403)
    assert none.json()["detail"] == "an API key is required"
    assert "sales key may not" in sales.json()["detail"]
    assert header.status_code == 202
    assert await count_rows(settings, "leads") == 1


async def test_a_lead_is_read_back_with_its_merge_history(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        await client.post(
            "/v1/leads",
            json={**LEAD, "job_title": "Countess", "attribution": {"utm_source": "webinar"}},
            headers=auth(api_keys["crm"]),
        )
        answer = await client.get(f"/v1/leads/{lead_id}", headers=auth(api_keys["sales"]))
    assert answer.status_code == 200, answer.text
    lead = answer.json()
    assert lead["lead_id"] == lead_id
    assert lead["contact"]["email"] == "Ada.Lovelace@example.com"
    assert lead["contact"]["job_title"] == "Countess"
    assert lead["consent"]["given"] is True and lead["consent"]["source"] == "api"
    assert lead["first_touch"]["utm_source"] == "newsletter"
    assert lead["last_touch"]["utm_source"] == "webinar"
    assert lead["updated_at"] >= lead["created_at"]
    [change] = lead["history"]
    assert change["source"] == "api"
    assert change["changes"] == {"job_title": [None, "Countess"]}


async def test_reading_an_unknown_or_malformed_lead_id_names_lead_id(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        unknown = await client.get(f"/v1/leads/{uuid.uuid4()}", headers=auth(api_keys["crm"]))
        malformed = await client.get("/v1/leads/not-a-uuid", headers=auth(api_keys["crm"]))
        anonymous = await client.get(f"/v1/leads/{uuid.uuid4()}")
    assert (unknown.status_code, malformed.status_code, anonymous.status_code) == (404, 422, 401)
    assert unknown.json()["errors"] == [{"field": "lead_id", "reason": "is not a known lead"}]
    assert [e["field"] for e in malformed.json()["errors"]] == ["lead_id"]


async def test_an_erased_lead_answers_410(settings: Settings, api_keys):
    async with running(create_app(settings)) as client:
        lead_id = (
            await client.post("/v1/leads", json=LEAD, headers=auth(api_keys["marketing"]))
        ).json()["lead_id"]
        await client.post(f"/v1/leads/{lead_id}/erase", headers=auth(api_keys["marketing"]))
        answer = await client.get(f"/v1/leads/{lead_id}", headers=auth(api_keys["marketing"]))
    assert answer.status_code == 410
    assert "was erased" in answer.json()["detail"]
    assert answer.json()["errors"][0]["field"] == "lead_id"


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


@pytest.mark.parametrize(
    "change, field",
    [
        ({"attribution": {"utm_source": "a\u0000b"}}, "attribution.utm_source"),
        ({"attribution": {"utm_source": "  \u0007bell  "}}, "attribution.utm_source"),
        (
            {"attribution": {"landing_page": "https://x.example/" + "x" * 2048}},
            "attribution.landing_page",
        ),
        ({"consent": {"given": True, "text_version": "\u001b[31m"}}, "consent.text_version"),
        ({"consent": {"given": True, "given_at": "2999-01-01T00:00:00Z"}}, "consent.given_at"),
        ({"first_name": "\ud800"}, "first_name"),
    ],
    ids=[
        "nul",
        "control-character",
        "over-long-url",
        "escape-sequence",
        "future-consent",
        "lone-surrogate",
    ],
)
async def test_text_that_capture_would_not_store_gets_422_naming_it(
    settings: Settings, api_keys, change, field
):
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/leads",
            content=json.dumps(LEAD | change),  # \u escapes
            headers=auth(api_keys["marketing"]) | JSON,
        )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert await count_rows(settings, "leads") == 0


async def test_sent_attribution_is_stored_clean_and_consent_not_given_has_no_time(
    settings: Settings, api_keys
):
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/leads",
            headers=auth(api_keys["marketing"]),
            json=LEAD
            | {
                "attribution": {"utm_source": "  news   letter ", "utm_medium": "   "},
                "consent": {"given": False, "given_at": "2026-01-01T00:00:00Z"},
            },
        )
        stored = await client.get(
            f"/v1/leads/{answer.json()['lead_id']}", headers=auth(api_keys["marketing"])
        )
    lead = stored.json()
    assert lead["first_touch"]["utm_source"] == "news letter"
    assert "utm_medium" not in lead["first_touch"] or lead["first_touch"]["utm_medium"] is None
    assert lead["consent"]["given"] is False and lead["consent"]["given_at"] is None


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
