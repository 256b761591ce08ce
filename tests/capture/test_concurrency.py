"""Capture under concurrent requests, through HTTP and events only, on two instances of the
service sharing one database (so two outbox relays share one outbox, one at a time by the
advisory lock): one lead per person, each lead's events in commit order, none lost or doubled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from aiokafka import ConsumerRecord

from services.capture.app import create_app
from shared.settings import Settings
from tests.helpers import auth, reading, running

pytestmark = pytest.mark.asyncio

SUBMISSIONS = 12
CLIENTS = 6
OPERATIONS_PER_CLIENT = 6


@asynccontextmanager
async def two_instances(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running(create_app(settings))) for _ in range(2)]


def in_partition_order(records: list[ConsumerRecord]) -> list[dict]:
    return [json.loads(r.value) for r in sorted(records, key=lambda r: (r.partition, r.offset))]


async def test_simultaneous_first_submissions_of_one_new_email_make_one_lead(
    settings: Settings, api_keys
):
    key = auth(api_keys["marketing"])
    async with (
        two_instances(settings) as instances,
        reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1")) as captured,
    ):
        answers = await asyncio.gather(
            *(
                instances[n % 2].post(
                    "/v1/leads",
                    json={"email": "same.person@example.com", "company": f"Company {n}"},
                    headers=key,
                )
                for n in range(SUBMISSIONS)
            )
        )
        assert [a.status_code for a in answers] == [202] * SUBMISSIONS, [a.text for a in answers]
        records = await captured.wait_for_count(SUBMISSIONS)
        await captured.assert_no_more(SUBMISSIONS, quiet_s=0.5)

    lead_ids = {a.json()["lead_id"] for a in answers}
    assert len(lead_ids) == 1, f"one person became {len(lead_ids)} leads"
    assert sorted(a.json()["merged"] for a in answers) == [False] + [True] * (SUBMISSIONS - 1)
    events = in_partition_order(records)
    assert {e["lead_id"] for e in events} == lead_ids
    assert [e["payload"]["merged"] for e in events] == [False] + [True] * (SUBMISSIONS - 1)
    assert len({e["event_id"] for e in events}) == SUBMISSIONS


@dataclass
class Operation:
    """One request: what it sent (`mark`, unique) and when it was sent and answered."""

    kind: str  # "merge" or "activity"
    mark: str
    sent: float = 0.0
    answered: float = 0.0


async def test_concurrent_merges_and_activities_for_one_lead_keep_commit_order_on_each_topic(
    settings: Settings, api_keys
):
    key = auth(api_keys["marketing"])
    email = "busy.lead@example.com"

    async def client(instances: list[httpx.AsyncClient], number: int) -> list[Operation]:
        done = []
        for step in range(OPERATIONS_PER_CLIENT):
            instance = instances[(number + step) % 2]
            if (number + step) % 2:
                op = Operation("merge", f"company-{number}-{step}")
                request = instance.post(
                    "/v1/leads", json={"email": email, "company": op.mark}, headers=key
                )
            else:
                op = Operation("activity", f"https://example.com/{number}/{step}")
                request = instance.post(
                    "/v1/activities",
                    json={
                        "email": email,
                        "activity_type": "page_view",
                        "properties": {"url": op.mark},
                    },
                    headers=key,
                )
            op.sent = time.monotonic()
            answer = await request
            op.answered = time.monotonic()
            assert answer.status_code == 202, answer.text
            done.append(op)
        return done

    async with (
        two_instances(settings) as instances,
        reading(settings.kafka_bootstrap, settings.topic("lead.captured.v1")) as captured,
        reading(settings.kafka_bootstrap, settings.topic("lead.activity.v1")) as activities,
    ):
        created = await instances[0].post(
            "/v1/leads", json={"email": email, "company": "company-start"}, headers=key
        )
        assert created.status_code == 202, created.text
        lead_id = created.json()["lead_id"]
        operations = [
            op
            for ops in await asyncio.gather(*(client(instances, n) for n in range(CLIENTS)))
            for op in ops
        ]
        merges = [op for op in operations if op.kind == "merge"]
        visits = [op for op in operations if op.kind == "activity"]
        captured_records = await captured.wait_for_count(1 + len(merges), timeout_s=30)
        activity_records = await activities.wait_for_count(len(visits), timeout_s=30)
        await captured.assert_no_more(1 + len(merges), quiet_s=0.5)
        await activities.assert_no_more(len(visits), quiet_s=0.1)
        stored = (await instances[1].get(f"/v1/leads/{lead_id}", headers=key)).json()

    merge_events = in_partition_order(captured_records)
    activity_events = in_partition_order(activity_records)
    for events in (merge_events, activity_events):
        assert {e["lead_id"] for e in events} == {lead_id}
        assert len({e["event_id"] for e in events}) == len(events), "an event was doubled"
    companies = [e["payload"]["contact"]["company"] for e in merge_events]
    urls = [e["payload"]["properties"]["url"] for e in activity_events]
    assert sorted(companies) == sorted(["company-start", *(op.mark for op in merges)])
    assert sorted(urls) == sorted(op.mark for op in visits), "an activity was lost or doubled"

    # The order the merges committed in, as the lead's history records it: each merge held the
    # lead's row until it committed, so each one's old company is the previous one's new one.
    commit_order = ["company-start"]
    changes = {c["changes"]["company"][0]: c["changes"]["company"][1] for c in stored["history"]}
    while commit_order[-1] in changes:
        commit_order.append(changes.pop(commit_order[-1]))
    assert commit_order == companies, "lead.captured.v1 is not in the merges' commit order"

    # Whatever one client saw answered before another request was sent committed before it.
    for events, ops, position in (
        (companies, merges, {c: i for i, c in enumerate(companies)}),
        (urls, visits, {u: i for i, u in enumerate(urls)}),
    ):
        for earlier in ops:
            for later in ops:
                if earlier.answered < later.sent:
                    assert position[earlier.mark] < position[later.mark], (
                        f"{earlier.mark} was answered before {later.mark} was sent "
                        f"but comes after it: {events}"
                    )
