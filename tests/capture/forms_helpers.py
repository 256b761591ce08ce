"""The `ebook` form, a filled-in submission, and capture running with that form, for form tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text

from services.capture.app import create_app
from shared.db import create_engine
from shared.settings import Settings
from tests.helpers import auth, reading, running

FORM = {
    "name": "Ebook download",
    "field_mapping": {
        "work_email": "email",
        "fname": "first_name",
        "org": "company",
        "tel": "phone",
        "agree": "consent",
    },
    "required_fields": ["email", "company"],
    "allowed_origins": ["https://www.example.com"],
    "consent_required": True,
    "consent_text": "Ebooks Ltd may email me.",
    "consent_version": "2026-01",
    "default_source": "website",
    "default_campaign": "always-on",
    "default_region": "GB",
    "honeypot_field": "website",
}
FILLED = {
    "work_email": "Ada.Lovelace@Example.COM",
    "fname": "Ada",
    "org": "Analytical Engines",
    "tel": "020 7123 4567",
    "agree": "on",
}
SUBMIT = "/v1/forms/ebook/submissions"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@asynccontextmanager
async def capture(
    settings: Settings, api_keys: dict[str, str], **changes: object
) -> AsyncIterator[httpx.AsyncClient]:
    """Capture running with the `ebook` form defined (with `changes`)."""
    async with running(create_app(settings)) as client:
        answer = await client.put(
            "/v1/forms/ebook", json=FORM | changes, headers=auth(api_keys["admin"])
        )
        assert answer.status_code == 201, answer.text
        yield client


async def written(settings: Settings) -> tuple[int, int]:
    """(leads, outbox rows) in capture's tables."""
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            leads = await connection.scalar(text("SELECT count(*) FROM capture.leads"))
            return leads, await connection.scalar(text("SELECT count(*) FROM capture.outbox"))
    finally:
        await engine.dispose()


def captured_topic(settings: Settings):
    return reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1"))


def fields_of(answer: httpx.Response) -> list[str]:
    assert all(error["reason"] for error in answer.json()["errors"]), answer.text
    return [error["field"] for error in answer.json()["errors"]]
