"""`handoff up`'s demo model: loaded active and approved by both sides, once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.demo_scoring import load_scoring_demo
from shared.settings import Settings
from tests.scoring.conftest import sql

pytestmark = pytest.mark.asyncio


async def test_the_demo_model_loads_active_once(settings: Settings, engine: AsyncEngine) -> None:
    for _ in range(2):  # running handoff up again changes nothing
        await asyncio.to_thread(load_scoring_demo, settings.database_url, settings.secret_key)
    rows = await sql(
        engine,
        "SELECT version, status, marketing_approved_by, sales_approved_by FROM scoring.models",
    )
    assert [tuple(r) for r in rows] == [("demo-1", "active", "demo", "demo")]
    history = await sql(engine, "SELECT action FROM scoring.model_history ORDER BY id")
    assert [r.action for r in history] == [
        "created",
        "approved:marketing",
        "approved:sales",
        "activated",
    ]
