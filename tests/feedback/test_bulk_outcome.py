"""Feedback's batch use case leaves what the events one at a time leave, erasures included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.domain.aggregates import contribution, summed
from services.feedback.repository import facts as facts_sql
from shared.db import session_factory
from tests.feedback.bulk_helpers import aggregates, both_ways, in_batches, sql
from tests.feedback.bulk_story import random_story
from tests.feedback.conftest import T0, Journey
from tests.helpers import UowFactory

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(("seed", "mixed"), [(1, False), (2, False), (3, True), (4, True)])
async def test_batches_leave_what_one_event_at_a_time_leaves(
    uow: UowFactory, engine: AsyncEngine, seed: int, mixed: bool
) -> None:
    batches = random_story(seed)
    assert any(len({e.lead_id for e in b}) < len(b) for b in batches), (
        "some lead is twice in a batch"
    )
    alone, batched = await both_ways(uow, engine, batches, mixed=mixed)
    assert alone["erased"], "the story erases someone"
    assert len(alone["timeline"]) > 50
    assert len(alone["flow"]) == 2  # thresholds on both days
    assert {row.stage for row in alone["facts"]} >= {"assigned", "mql"}
    for part, rows in alone.items():
        assert batched[part] == rows, part


async def test_the_aggregates_are_the_facts_summed(uow: UowFactory, engine: AsyncEngine) -> None:
    """What the batches add up incrementally is what summing every lead's facts gives."""
    await in_batches(uow, random_story(5))
    async with session_factory(engine)() as session:
        rows = await session.execute(text("SELECT * FROM feedback.lead_facts"))
        every = [facts_sql._facts(row) for row in rows.all()]
    expected = {
        where: values
        for where, values in summed(contribution(f) for f in every).items()
        if any(values.values())
    }
    found = {
        (table, key): amounts
        for table, rows in (await aggregates(engine)).items()
        for key, amounts in rows.items()
    }
    assert found.keys() == expected.keys()
    for where, values in expected.items():
        assert {k: v for k, v in found[where].items() if k in values} == values, where


async def test_an_erased_person_gets_no_timeline_or_person_from_a_batch(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    gone, kept = Journey(), Journey()
    await in_batches(uow, [[gone.captured(T0), kept.captured(T0)], [gone.erased(T0)]])
    late = [
        gone.scored(T0 + timedelta(minutes=1), score=80),
        kept.scored(T0 + timedelta(minutes=1), score=75),
        gone.scored(T0 + timedelta(minutes=2), score=81),
    ]
    await in_batches(uow, [late])
    timeline = await sql(engine, "SELECT lead_id, event_type FROM feedback.timeline")
    assert sorted(timeline) == sorted(
        [(kept.lead_id, "lead.captured"), (kept.lead_id, "lead.scored")]
    )
    persons = await sql(engine, "SELECT lead_id, score FROM feedback.leads")
    assert persons == [(kept.lead_id, 75)]
    facts = await sql(engine, "SELECT lead_id, model_version FROM feedback.lead_facts")
    assert sorted(facts) == sorted([(gone.lead_id, "m1"), (kept.lead_id, "m1")])  # counted
