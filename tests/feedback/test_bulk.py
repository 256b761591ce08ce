"""Feedback's batch use case for lead events (`handlers.leads.take_in`) against the events handled
one at a time: the same events leave the same facts, persons, timelines, thresholds and report
aggregates; an erased person gets no timeline or person back; a batch costs a handful of
statements whatever its size and locks its leads in one order.

The use cases run here on the test's database as the consumer runner runs them (a batch in one
transaction, a run of one type of lead event given to the batch use case at once); the last test
goes through the broker and the running service."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine, text
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.app import SPEC
from services.feedback.domain.aggregates import contribution, summed
from services.feedback.handlers import leads
from services.feedback.models import platform, reason_day, revenue_day, segment_day, speed_day
from services.feedback.repository import facts as facts_sql
from services.feedback.repository import locked_facts
from shared.db import create_engine, session_factory
from shared.events import (
    ActivityProperties,
    Envelope,
    LeadActivity,
    LeadActivityEvent,
)
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.feedback.conftest import T0, Journey, capacity
from tests.feedback.test_locking import send_all
from tests.helpers import wait_for

pytestmark = pytest.mark.asyncio

UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
ONE_EVENT = {
    event_type.model_fields["event_type"].default: h for event_type, h in SPEC.handlers.items()
}
BULK = set(leads.READINGS)
TABLES = (
    "leads",
    "timeline",
    "erased_leads",
    "lead_facts",
    "segment_day",
    "reason_day",
    "revenue_day",
    "speed_day",
    "flow_day",
    "capacity_day",
)
AGGREGATES = (segment_day, reason_day, revenue_day, speed_day)


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url, pool_size=10)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def uow(settings: Settings, engine: AsyncEngine) -> UowFactory:
    """A unit of work on the test's database, committed on leaving (as the runner does)."""
    sessions = session_factory(engine)
    outbox = Outbox(platform, settings, "feedback")

    @asynccontextmanager
    async def unit() -> AsyncIterator[UnitOfWork]:
        async with sessions() as session, session.begin():
            yield UnitOfWork(session, outbox, settings)

    return unit


async def sql(engine: AsyncEngine, query: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(query))).all())


async def one_by_one(uow: UowFactory, events: list[Envelope]) -> None:
    for event in events:
        async with uow() as unit:
            await ONE_EVENT[event.event_type](event, unit)


async def in_batches(
    uow: UowFactory, batches: list[list[Envelope]], *, mixed: bool = False
) -> None:
    """A batch in one transaction: each run of one type of lead event (`mixed`: of any lead
    event types) given to the batch use case at once, any other event to its handler."""
    for batch in batches:
        async with uow() as unit:
            kind: Callable[[Envelope], object] = (
                (lambda e: e.event_type in BULK) if mixed else (lambda e: e.event_type)
            )
            for _, group in itertools.groupby(batch, kind):
                run = list(group)
                if run[0].event_type in BULK:
                    await leads.take_in(run, unit)
                else:
                    for event in run:
                        await ONE_EVENT[event.event_type](event, unit)


async def outcome(engine: AsyncEngine) -> dict[str, Any]:
    """Every row feedback keeps, but the instants PostgreSQL stamps; timeline lines in the
    order the API lists them; aggregate rows of all zeros left out (reports skip them, and
    whether one exists depends on how events were grouped into transactions)."""
    found: dict[str, Any] = {
        "facts": await sql(engine, "SELECT * FROM feedback.lead_facts ORDER BY lead_id"),
        "persons": await sql(
            engine,
            "SELECT lead_id, correlation_id, email, first_name, last_name, job_title, company,"
            " country, score, grade FROM feedback.leads ORDER BY lead_id",
        ),
        "timeline": await sql(
            engine,
            "SELECT lead_id, occurred_at, event_id, event_type, actor, summary, detail"
            " FROM feedback.timeline ORDER BY lead_id, occurred_at, id",
        ),
        "erased": await sql(engine, "SELECT * FROM feedback.erased_leads ORDER BY lead_id"),
        "flow": await sql(engine, "SELECT * FROM feedback.flow_day ORDER BY day"),
    }
    return found | await aggregates(engine)


async def aggregates(engine: AsyncEngine) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Each aggregate table's rows, key -> amounts, but rows of all zeros."""
    found: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for table in AGGREGATES:
        keys = [column.name for column in table.primary_key]
        found[table.name] = {}
        for row in await sql(engine, f"SELECT * FROM {table.fullname}"):
            data = dict(row._mapping)
            amounts = {name: value for name, value in data.items() if name not in keys}
            if any(amounts.values()):
                found[table.name][tuple(data[name] for name in keys)] = amounts
    return found


async def reset(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(f'feedback.{t}' for t in TABLES)}"))


async def both_ways(
    uow: UowFactory, engine: AsyncEngine, batches: list[list[Envelope]], *, mixed: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    await one_by_one(uow, [event for batch in batches for event in batch])
    alone = await outcome(engine)
    await reset(engine)
    await in_batches(uow, batches, mixed=mixed)
    return alone, await outcome(engine)


def activity(lead: Journey, minutes: float) -> LeadActivityEvent:
    at = T0 + timedelta(minutes=minutes)
    return LeadActivityEvent(
        producer="capture",
        lead_id=lead.lead_id,
        correlation_id=lead.correlation_id,
        occurred_at=at,
        payload=LeadActivity(
            activity_type="pricing_page_view",
            happened_at=at,
            properties=ActivityProperties(url="https://example.com/pricing"),
        ),
    )


def random_story(seed: int, people: int = 12, events: int = 140) -> list[list[Envelope]]:
    """Leads' events of every kind, out of order in time (across two days), some leads captured
    twice (merged or not), reassigned, now and then erased (and heard of again after), team
    capacity between; cut into batches of 1 to 15."""
    rng = random.Random(seed)
    journeys = [Journey() for _ in range(people)]
    story: list[Envelope] = []
    for n in range(events):
        lead = rng.choice(journeys)
        if n == events // 2:
            story.append(journeys[0].erased(T0))  # someone erased, and heard of again after
        minutes = rng.uniform(0, 60 * 30)  # into the next day too
        at = T0 + timedelta(minutes=minutes)
        kind = rng.random()
        if kind < 0.18:
            story.append(
                lead.captured(
                    at,
                    source=rng.choice(["ads", "seo"]),
                    form=rng.choice(["demo", "trial"]),
                    merged=rng.random() < 0.3,
                )
            )
        elif kind < 0.33:
            story.append(activity(lead, minutes))
        elif kind < 0.5:
            story.append(
                lead.scored(
                    at,
                    score=rng.randrange(20, 90),
                    threshold=rng.randrange(50, 70),
                    model=rng.choice(["m1", "m2"]),
                )
            )
        elif kind < 0.62:
            story.append(lead.mql(at, threshold=rng.randrange(50, 70), model="m2"))
        elif kind < 0.68:
            story.append(lead.returned(at))
        elif kind < 0.75:
            story.append(lead.queued(at, team=rng.choice(["emea", "apac"])))
        elif kind < 0.93:
            attempt = rng.choice([1, 1, 2, 3])
            story.append(lead.assigned(at, rep=f"rep-{rng.randrange(4)}", attempt=attempt))
        elif kind < 0.97:
            story.append(capacity(at, team=rng.choice(["emea", "apac"]), free=rng.randrange(5)))
        else:
            story.append(lead.erased(at))
    batches, start = [], 0
    while start < len(story):
        size = rng.randrange(1, 16)
        batches.append(story[start : start + size])
        start += size
    return batches


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


async def test_a_batch_costs_a_handful_of_statements_whatever_its_size(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    people = [Journey() for _ in range(20)]
    await in_batches(uow, [[p.captured(T0) for p in people]])

    async def statements(batch: list[Envelope]) -> list[str]:
        counted: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
            counted.append(" ".join(statement.split()[:3]))

        sa_event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            await in_batches(uow, [batch])
        finally:
            sa_event.remove(engine.sync_engine, "before_cursor_execute", seen)
        return counted

    minutes = [1, 2, 3]
    small = await statements([p.scored(T0 + timedelta(minutes=1)) for p in people[:2]])
    large = await statements(
        [p.scored(T0 + timedelta(minutes=m)) for m in minutes for p in people]  # 60 events
    )
    # facts claimed, persons, timeline, facts saved, the day's threshold; at commit the
    # aggregate rows (segment_day: model_version moved from "" to m1)
    assert len(large) <= 6, large
    assert large == small
    one = await statements([people[0].scored(T0 + timedelta(minutes=9))])
    assert len(one) <= 6, one


async def test_a_batch_locks_its_leads_facts_in_one_order(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """Another transaction holds lead x's facts and will want y's: a batch naming y before x
    must not take y first and wait for x (a deadlock), but wait for x holding nothing."""
    x, y = sorted([Journey(), Journey()], key=lambda j: j.lead_id)
    await in_batches(uow, [[x.captured(T0), y.captured(T0)]])

    async def waiting_on_a_lock() -> bool:
        rows = await sql(
            engine,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        return bool(rows[0][0] > 0)

    async with uow() as holder:
        await locked_facts(holder.session, x.lead_id)
        batch = asyncio.create_task(
            in_batches(uow, [[y.mql(T0 + timedelta(minutes=1)), x.mql(T0 + timedelta(minutes=1))]])
        )
        await wait_for(waiting_on_a_lock, message="the batch waiting for lead x")
        await locked_facts(holder.session, y.lead_id)  # a deadlock if the batch held y
    await batch
    stages = await sql(engine, "SELECT DISTINCT stage FROM feedback.lead_facts")
    assert stages == [("mql",)]


async def test_overlapping_batches_at_once_neither_deadlock_nor_lose_a_count(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    people = [Journey() for _ in range(30)]
    await in_batches(uow, [[p.captured(T0) for p in people]])
    at = T0 + timedelta(minutes=5)
    await asyncio.gather(
        in_batches(uow, [[p.mql(at) for p in people[0:20]]]),
        in_batches(uow, [[p.mql(at) for p in people[10:30][::-1]]]),
        in_batches(uow, [[p.mql(at) for p in people[::-1]]]),
        *(one_by_one(uow, [p.mql(at)]) for p in people[5:25:4]),
    )
    [(mqls,)] = await sql(engine, "SELECT mqls FROM feedback.flow_day")
    assert mqls == 20 + 20 + 30 + 5
    [(mql,)] = await sql(engine, "SELECT mql FROM feedback.segment_day WHERE dimension = 'all'")
    assert mql == 30


async def test_the_running_service_takes_lead_events_in_batches_and_once_each(
    feedback: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    """Through the broker: each event sent twice (a redelivery), the copies often in the same
    batch; every event is counted and on the timeline once, in far fewer statements than
    events."""
    claims: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO feedback.lead_facts"):
            claims.append(1)

    people = [Journey() for _ in range(60)]
    events = [e for p in people for e in (p.captured(T0), p.mql(T0 + timedelta(minutes=1)))]
    sa_event.listen(Engine, "before_cursor_execute", seen)
    try:
        await send_all(settings, [e for e in events for _ in range(2)])

        async def settled() -> bool:
            rows = await sql(engine, "SELECT count(*) FROM feedback.timeline")
            return bool(rows[0][0] == len(events))

        await wait_for(settled, timeout_s=60, message=f"{len(events)} lines on the timeline")
    finally:
        sa_event.remove(Engine, "before_cursor_execute", seen)
    [(lead, mql)] = await sql(
        engine, "SELECT lead, mql FROM feedback.segment_day WHERE dimension = 'all'"
    )
    assert (lead, mql) == (60, 60)
    [(mqls,)] = await sql(engine, "SELECT mqls FROM feedback.flow_day")
    assert mqls == 60
    assert len(claims) < len(events) // 4, f"{len(claims)} claims for {len(events)} events"
