"""Routing's capacity: one event per changed team; two instances never exceed a rep's capacity."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.routing.app import create_app
from services.routing.handlers.capacity import publish_all_capacity, publish_capacity_changes
from services.routing.models import platform
from services.routing.repository import Repository
from shared.events import (
    LeadMqlEvent,
    SalesCapacityEvent,
    Verdict,
)
from shared.outbox import Outbox
from shared.uow import UnitOfWork
from tests.helpers import running, wait_for
from tests.routing.conftest import Routing, mql, rep, team
from tests.routing.handlers_helpers import feedback

pytestmark = pytest.mark.asyncio


async def test_capacity_changes_are_coalesced_into_one_event_per_team(routing: Routing) -> None:
    await routing.load(teams=[team("emea"), team("apac")], reps=[rep("ann", capacity=5)])
    outbox = Outbox(platform, routing.settings, "routing")

    async def in_transaction(job: Any) -> None:
        async with routing.sessions() as session, session.begin():
            await job(UnitOfWork(session, outbox, routing.settings))

    async def burst(uow: UnitOfWork) -> None:
        repo = Repository(uow.session)
        for _ in range(1_000):
            await repo.capacity_changed("emea")

    await in_transaction(publish_capacity_changes)  # what the import itself changed
    await in_transaction(lambda uow: uow.session.execute(text("DELETE FROM routing.outbox")))
    await in_transaction(burst)
    await in_transaction(publish_capacity_changes)
    await in_transaction(publish_capacity_changes)  # nothing new: nothing sent
    sent = await routing.rows("SELECT topic, key FROM routing.outbox")
    assert sent == [(routing.topic(SalesCapacityEvent), b"emea")]
    await in_transaction(publish_all_capacity)  # the heartbeat: every team
    sent = await routing.rows("SELECT key FROM routing.outbox ORDER BY id")
    assert [key for (key,) in sent] == [b"emea", b"apac", b"emea"]


def _reads(app: FastAPI, topic: str) -> bool:
    """The instance's consumer holds a partition of `topic` (the runner keeps it private)."""
    consumer = app.state.runtime.consumer._consumer
    return consumer is not None and any(tp.topic == topic for tp in consumer.assignment())


async def test_two_instances_never_exceed_any_reps_capacity(routing: Routing) -> None:
    reps = [rep(f"r{i}", capacity=3) for i in range(5)]  # 15 slots for 60 leads
    await routing.load(teams=[team(fallback=True)], reps=reps)
    leads = [mql(score=50 + i % 7) for i in range(60)]
    peak = {"over": -99}

    async def watch() -> None:
        while True:
            [(over,)] = await routing.rows("SELECT max(open_load - capacity) FROM routing.reps")
            peak["over"] = max(peak["over"], over)
            await asyncio.sleep(0.005)

    apps = [create_app(routing.settings), create_app(routing.settings)]
    async with running(apps[0]), running(apps[1]):
        mql_topic = routing.topic(LeadMqlEvent)
        await wait_for(
            lambda: all(_reads(app, mql_topic) for app in apps),
            timeout_s=30,
            message="both instances reading lead.mql.v1",
        )
        watcher = asyncio.create_task(watch())
        try:
            await asyncio.gather(*(routing.send(lead) for lead in leads))

            async def all_decided() -> bool:
                [(n,)] = await routing.rows("SELECT count(*) FROM routing.decisions")
                return n == len(leads)

            await wait_for(all_decided, timeout_s=30, message="60 decisions")
            # Close a third of the assignments at once: the slots go to the queue, still capped.
            taken = await routing.rows("SELECT lead_id FROM routing.assignments LIMIT 5")
            await asyncio.gather(
                *(routing.send(feedback(lead_id, Verdict.lost)) for (lead_id,) in taken)
            )

            async def refilled() -> bool:
                [(n,)] = await routing.rows("SELECT count(*) FROM routing.assignments")
                return n == 20

            await wait_for(refilled, timeout_s=30, message="freed slots refilled")
        finally:
            watcher.cancel()
    assert peak["over"] == 0
    per_rep = await routing.rows(
        "SELECT rep_id, count(*) FROM routing.assignments WHERE status <> 'closed' GROUP BY rep_id"
    )
    assert sorted(per_rep) == [(f"r{i}", 3) for i in range(5)]
    handled = await routing.rows("SELECT count(*) FROM routing.processed_events")
    assert handled == [(65,)]
