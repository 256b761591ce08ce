"""A database outage while capture is serving: every write path answers 503 with Retry-After,
logs it, writes nothing, and the same request retried once the database is back gets 202.

The outage is the one an operator causes: `ALTER DATABASE ... ALLOW_CONNECTIONS false` and the
database's backends terminated. New connections are then refused with SQLSTATE 55000, which
is not one of the driver's "connection" errors: a refused connection is an outage whatever
its SQLSTATE. The API key is used once before, so it is cached and the write path is reached.
"""

from __future__ import annotations

import asyncio
import json
import logging

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from services.capture.app import create_app
from shared.db import asyncpg_dsn
from shared.settings import Settings
from tests.helpers import (
    TopicReader,
    auth,
    database_refusing_connections,
    reading,
    running,
    wait_for,
)

pytestmark = pytest.mark.asyncio

FORM = {
    "name": "Outage form",
    "field_mapping": {"work_email": "email", "org": "company"},
    "required_fields": ["email"],
    "allowed_origins": ["https://www.example.com"],
    "consent_required": False,
}
SUBMIT = "/v1/forms/outage/submissions"
UNAVAILABLE = "the database is unavailable; retry shortly"


async def written(settings: Settings) -> tuple[int, int]:
    """(leads, outbox rows) in capture's tables."""
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        return (
            await connection.fetchval("SELECT count(*) FROM capture.leads"),
            await connection.fetchval("SELECT count(*) FROM capture.outbox"),
        )
    finally:
        await connection.close()


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["detail"] == UNAVAILABLE


def outages_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and "database unavailable" in record.getMessage()
    ]


async def test_an_outage_with_the_key_cached_gets_503_on_both_write_paths_then_202_on_retry(
    settings: Settings, api_keys, caplog
):
    caplog.set_level(logging.WARNING)
    key = auth(api_keys["marketing"])
    lead = {"email": "during@example.com", "company": "Outage Ltd"}
    form_post = {"work_email": "form@example.com", "org": "Outage Ltd"}
    async with (
        running(create_app(settings)) as client,
        reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1")) as captured,
    ):
        defined = await client.put("/v1/forms/outage", json=FORM, headers=auth(api_keys["admin"]))
        assert defined.status_code == 201, defined.text
        first = await client.post("/v1/leads", json={"email": "before@example.com"}, headers=key)
        assert first.status_code == 202, first.text  # the key is cached from here on
        before = await written(settings)

        async with database_refusing_connections(settings.database_url):
            api = await client.post("/v1/leads", json=lead, headers=key)
            form = await client.post(SUBMIT, data=form_post)
            api_again = await client.post("/v1/leads", json=lead, headers=key)
        assert_unavailable(api)
        assert_unavailable(form)
        assert_unavailable(api_again)
        assert len(outages_logged(caplog)) >= 3, "each outage answer is logged"
        assert await written(settings) == before, "nothing written during the outage"

        retried = await client.post("/v1/leads", json=lead, headers=key)
        form_retried = await client.post(SUBMIT, data=form_post)
        assert retried.status_code == 202, retried.text
        assert form_retried.status_code == 202, form_retried.text
        # The relay may publish an event again when the outage cut it off before it could mark
        # the row sent (at least once; consumers skip the copy by its event_id): count events.
        await wait_for(lambda: _distinct_events(captured, 3), message="three events")
        await asyncio.sleep(0.3)  # a quiet window: no other event comes
        events = await _distinct_events(captured, 3)
    assert events is not None, "an event too many on lead.captured.v1"
    emails = sorted(event["payload"]["contact"]["email"] for event in events.values())
    assert emails == ["before@example.com", "during@example.com", "form@example.com"]
    leads, _ = await written(settings)
    assert leads == before[0] + 2


async def test_an_outage_in_the_middle_of_a_request_gets_503_and_leaves_the_lead_as_it_was(
    settings: Settings, api_keys
):
    key = auth(api_keys["marketing"])
    database = make_url(settings.database_url).database
    async with running(create_app(settings)) as client:
        first = await client.post(
            "/v1/leads", json={"email": "mid@example.com", "company": "Before"}, headers=key
        )
        assert first.status_code == 202, first.text
        before = await written(settings)

        # Hold the lead's row so that a merge for it stops half-way, inside its transaction.
        holder = await asyncpg.connect(asyncpg_dsn(settings.database_url))
        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT 1 FROM capture.leads FOR UPDATE")
        merge = asyncio.create_task(
            client.post(
                "/v1/leads", json={"email": "mid@example.com", "company": "After"}, headers=key
            )
        )
        await wait_for(
            lambda: _waiting_on_a_lock(holder, database),
            message="the merge to wait on the lead's row",
        )
        async with database_refusing_connections(settings.database_url):
            answer = await asyncio.wait_for(merge, 15)
        assert holder.is_closed()
        assert_unavailable(answer)

        assert await written(settings) == before, "the merge wrote nothing"
        retried = await client.post(
            "/v1/leads", json={"email": "mid@example.com", "company": "After"}, headers=key
        )
        assert retried.status_code == 202, retried.text
        assert retried.json() == {"lead_id": first.json()["lead_id"], "merged": True}
        stored = await client.get(f"/v1/leads/{first.json()['lead_id']}", headers=key)
    assert stored.json()["contact"]["company"] == "After"


async def _distinct_events(reader: TopicReader, count: int) -> dict[str, dict] | None:
    events = {}
    for record in await reader.poll():
        event = json.loads(record.value)
        events[event["event_id"]] = event
    return events if len(events) == count else None


async def _waiting_on_a_lock(connection: asyncpg.Connection, database: str | None) -> bool:
    return bool(
        await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            database,
        )
    )
