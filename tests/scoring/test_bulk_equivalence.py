"""Scoring's batch use cases leave the same lead rows and events as the one-event path."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.events import Envelope, LeadErased, LeadErasedEvent
from tests.helpers import UowFactory
from tests.scoring.bulk_helpers import SOON, in_batches, one_by_one
from tests.scoring.conftest import activity, capacity, captured, published, sql

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("demo_model")]

INSTANTS = ("held_since", "mql_at", "scored_at", "created_at")
SCORING_TABLES = (
    "leads",
    "activities",
    "team_capacity",
    "capacity_history",
    "outcomes",
    "outbox",
    "processed_events",
)


async def outcome(engine: AsyncEngine) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    """The lead rows (instants only as set or not), the events written, the ledger."""
    rows = []
    for row in await sql(engine, "SELECT * FROM scoring.leads ORDER BY lead_id"):
        values = dict(row._mapping)
        rows.append(values | {name: values[name] is not None for name in INSTANTS})
    events = [
        (e.event_type, e.lead_id, e.correlation_id, e.causation_id, e.payload.model_dump())
        for e in await published(engine)
    ]
    ledger = await sql(engine, "SELECT released_total FROM scoring.capacity_ledger")
    return rows, events, ledger


async def reset(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        tables = ", ".join(f"scoring.{name}" for name in SCORING_TABLES)
        await connection.execute(text(f"TRUNCATE {tables}"))
        await connection.execute(
            text(
                "UPDATE scoring.capacity_ledger SET released_total = 0, team_id = NULL, "
                "published_at = NULL, received_at = NULL"
            )
        )


async def both_ways(
    uow: UowFactory, engine: AsyncEngine, batches: list[list[Envelope]]
) -> tuple[Any, Any]:
    await one_by_one(uow, [event for batch in batches for event in batch])
    alone = await outcome(engine)
    await reset(engine)
    await in_batches(uow, batches)
    return alone, await outcome(engine)


async def test_a_batch_leaves_what_one_by_one_leaves_for_a_hand_made_story(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """No capacity known (the base decides), then sales with 1 slot: a lead twice in a batch,
    an activity before its profile, a merge, a product, held leads released best first by a
    new capacity state, an erasure with a later event for the person."""
    a, b, c, d, e, f = (uuid.uuid4() for _ in range(6))
    t0 = datetime.now(UTC)
    batches: list[list[Envelope]] = [
        [
            captured(a),
            activity(a, "demo_request", SOON),  # base 60: an MQL at once
            activity(b, "page_view", SOON),  # before b's profile: waits
            captured(b, job_title="Analyst", company_size="1-10"),  # 16: nurture
        ],
        [capacity("emea", 1, at=t0)],
        [
            captured(c),
            activity(c, "webinar_attended", SOON),  # 65, k = 1: takes the slot
            captured(d),
            activity(d, "webinar_attended", SOON),  # 65, k = 0: held
            captured(e, company_size="1001-5000"),
            activity(e, "pricing_page_view", SOON, product="Handoff Cloud"),
            activity(d, "content_download", SOON),  # d again in the batch: 70, still held
            captured(f, email="f@gmail.com", free_mail=True),
        ],
        [capacity("emea", 2, at=t0 + timedelta(seconds=1))],  # d, then e: best first
        [erase_event(f)],
        [activity(f, "demo_request", SOON), captured(a, job_title="CTO")],  # f erased; a merged
    ]
    alone, batched = await both_ways(uow, engine, batches)
    assert batched == alone
    rows, events, ledger = batched
    assert {r["lead_id"]: r["state"] for r in rows} == {
        a: "mql",
        b: "nurture",
        c: "mql",
        d: "mql",
        e: "mql",
        f: "erased",
    }
    assert [x[1] for x in events if x[0] == "lead.mql"] == [a, c, d, e]
    assert ledger == [(4,)]  # a, before any capacity was known, counts too


def erase_event(lead_id: uuid.UUID) -> LeadErasedEvent:
    return LeadErasedEvent(producer="capture", lead_id=lead_id, payload=LeadErased(reason="asked"))


TITLES = ["Head of Engineering", "Engineering Manager", "Analyst", None, "CTO"]
SIZES = ["1-10", "51-200", "5001+"]
KINDS = [
    "demo_request",
    "trial_signup",
    "pricing_page_view",
    "webinar_attended",
    "content_download",
    "email_click",
    "page_view",
]


def random_story(seed: int, leads: int = 14, events: int = 90) -> list[list[Envelope]]:
    """Leads captured (some twice), activities (some before the profile), sales capacity moving
    between none and a few slots, now and then an erasure; cut into batches of 1 to 12."""
    rng = random.Random(seed)
    ids = [uuid.uuid4() for _ in range(leads)]
    t0 = datetime.now(UTC)
    story: list[Envelope] = []
    for n in range(events):
        lead = rng.choice(ids)
        roll = rng.random()
        if roll < 0.3:
            story.append(
                captured(
                    lead,
                    job_title=rng.choice(TITLES),
                    company_size=rng.choice(SIZES),
                    country=rng.choice(["GB", "JP"]),
                )
            )
        elif roll < 0.85:
            product = {"product": rng.choice(["Cloud", "Edge"])} if rng.random() < 0.2 else {}
            story.append(activity(lead, rng.choice(KINDS), SOON, **product))
        elif roll < 0.97:
            team = rng.choice(["emea", "apac"])
            at = t0 + timedelta(seconds=n)
            story.append(capacity(team, rng.randrange(0, 4), rng.randrange(0, 2), at=at))
        else:
            story.append(erase_event(lead))
    batches, start = [], 0
    while start < len(story):
        size = rng.randrange(1, 13)
        batches.append(story[start : start + size])
        start += size
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_batch_leaves_what_one_by_one_leaves_for_random_stories(
    uow: UowFactory, engine: AsyncEngine, seed: int
) -> None:
    alone, batched = await both_ways(uow, engine, random_story(seed))
    rows, events, _ = alone
    assert len({r["state"] for r in rows}) >= 3, "the story moves leads between states"
    assert any(x[0] == "lead.mql" for x in events)
    assert batched[0] == rows
    assert batched[1] == events
    assert batched[2] == alone[2]
