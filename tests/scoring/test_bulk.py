"""Scoring's batch use cases (`handlers.intake`) against the one-event path they stand beside:
the same events, handled one by one or in batches, leave the same lead rows and the same events.

Activities are dated in the future (they count as now: no decay), so the two runs, seconds apart,
score alike; the instants each run takes (held_since, mql_at, scored_at) are compared only for
being set or not."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.scoring.handlers.capacity import record_capacity
from services.scoring.handlers.intake import take_in
from services.scoring.handlers.leads import erase, record_activity, record_capture
from services.scoring.repository import lock_lead
from shared.events import Envelope, LeadErased, LeadErasedEvent
from tests.helpers import wait_for
from tests.scoring.conftest import UowFactory, activity, capacity, captured, published, sql

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("demo_model")]

ONE_EVENT = {
    "lead.captured": record_capture,
    "lead.activity": record_activity,
    "lead.capacity": record_capacity,
    "sales.capacity": record_capacity,
    "lead.erased": erase,
}
BULK = {"lead.captured", "lead.activity"}
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


async def one_by_one(uow: UowFactory, events: list[Envelope]) -> None:
    for event in events:
        async with uow() as unit:
            await ONE_EVENT[event.event_type](event, unit)


async def in_batches(uow: UowFactory, batches: list[list[Envelope]]) -> None:
    """As the consumer runner does: a batch in one transaction, each run of one type of lead
    event given to the batch use case, any other event to its one-event handler."""
    for batch in batches:
        async with uow() as unit:
            for event_type, run in itertools.groupby(batch, lambda e: e.event_type):
                if event_type in BULK:
                    await take_in(list(run), unit)
                else:
                    for event in run:
                        await ONE_EVENT[event_type](event, unit)


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


SOON = datetime.now(UTC) + timedelta(days=1)  # in the future: counts as now, no decay


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


async def test_a_batch_costs_a_handful_of_statements_whatever_its_size(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """The batch path's point: the statements of a batch do not grow with its events."""
    leads = [uuid.uuid4() for _ in range(20)]
    await in_batches(uow, [[capacity("emea", 5)], [captured(lead) for lead in leads]])
    counted: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement.split(None, 1)[0])

    kinds = ["page_view", "webinar_attended", "demo_request"]
    batch = [activity(lead, kind, SOON) for kind in kinds for lead in leads]  # 60 events
    sa_event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        await in_batches(uow, [batch])
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", seen)
    # leads, activities read, activities added, ledger (locked), best held, leads written,
    # ledger written, outbox; the active model is cached
    assert len(counted) <= 9, counted
    states = await sql(engine, "SELECT state, count(*) FROM scoring.leads GROUP BY state")
    assert dict(states) == {"mql": 20}, "five slots taken, the rest above the ceiling"


async def test_concurrent_batches_share_the_slots_exactly_and_do_not_deadlock(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """Batches on two instances at once, over overlapping leads in opposite orders, beside
    one-event transactions: 12 free slots give 12 MQLs, none twice; the leads are locked in one
    order, so no batch waits on another in a cycle."""
    leads = [
        captured(email=f"p{i}@example.com", job_title="Analyst", industry="retail")
        for i in range(30)
    ]  # fit 20: nurture
    await in_batches(uow, [leads])
    await in_batches(uow, [[capacity(f"team-{team}", free=1) for team in range(12)]])
    ids = [lead.lead_id for lead in leads]

    async def batch(lead_ids: list[uuid.UUID | None]) -> None:
        async with uow() as unit:  # + 15 and + 5: 40, in [F, U)
            await take_in([activity(i, "webinar_attended", SOON) for i in lead_ids], unit)
            await take_in([activity(i, "content_download", SOON) for i in lead_ids], unit)

    async def alone(lead_id: uuid.UUID | None) -> None:
        async with uow() as unit:
            await record_activity(activity(lead_id, "webinar_attended", SOON), unit)

    await asyncio.gather(
        batch(ids[0:14]),
        batch(ids[7:21][::-1]),
        batch(ids[14:25]),
        *(alone(i) for i in ids[25:]),
    )
    released = [e.lead_id for e in await published(engine, "lead.mql")]
    assert len(set(released)) == len(released) == 12
    [(held,)] = await sql(engine, "SELECT count(*) FROM scoring.leads WHERE state = 'held'")
    assert held == 18


async def test_a_batch_locks_its_leads_in_one_order(uow: UowFactory, engine: AsyncEngine) -> None:
    """Another transaction holds lead x and will want lead y: a batch naming y before x must
    not take y first and wait for x (a deadlock), but wait for x holding nothing."""
    x, y = sorted([uuid.uuid4(), uuid.uuid4()])
    await in_batches(uow, [[captured(x), captured(y)]])

    async def waiting_on_a_lock() -> bool:
        rows = await sql(
            engine,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        return rows[0][0] > 0

    async with uow() as holder:
        await lock_lead(holder.session, x)
        batch = asyncio.create_task(
            in_batches(uow, [[activity(y, "page_view", SOON), activity(x, "page_view", SOON)]])
        )
        await wait_for(waiting_on_a_lock, message="the batch waiting for lead x")
        await lock_lead(holder.session, y)  # a deadlock if the batch held y
    await batch
    rows = await sql(engine, "SELECT count(*) FROM scoring.activities")
    assert rows[0][0] == 2
