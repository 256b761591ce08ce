"""The outbox relay: publishes committed rows in order, and keeps them through a broker outage."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

import asyncpg
import pytest
from sqlalchemy import text

from shared import relay as relay_module
from shared.events import LeadErased, LeadErasedEvent
from tests.brokers import Broker
from tests.helpers import reading, wait_for
from tests.platform.conftest import TABLES, Platform

pytestmark = pytest.mark.asyncio


def erased(lead_id: uuid.UUID, sequence: int) -> LeadErasedEvent:
    return LeadErasedEvent(
        producer="test", lead_id=lead_id, payload=LeadErased(reason=str(sequence))
    )


async def write_outbox(platform: Platform, events: list[LeadErasedEvent]) -> None:
    async with platform.sessions() as session, session.begin():
        for event in events:
            await platform.outbox.add(session, event)


def sequences_by_lead(records) -> dict[str, list[int]]:
    """Each lead's events in partition order. A redelivered copy (same event_id, which the
    relay may send again after a timeout; consumers skip it) counts once, where it came first."""
    seen: dict[str, list[int]] = defaultdict(list)
    event_ids = set()
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = json.loads(record.value)
        if event["event_id"] not in event_ids:
            event_ids.add(event["event_id"])
            seen[event["lead_id"]].append(int(event["payload"]["reason"]))
    return seen


@pytest.mark.broker_outage
async def test_rows_written_while_the_broker_is_down_are_published_in_order_after_it_returns(
    platform: Platform, broker: Broker
):
    relay = platform.relay()
    await relay.start()
    lead = uuid.uuid4()
    await write_outbox(platform, [erased(lead, 0)])
    await wait_for(lambda: _pending_is(relay, 0), message="the first row published")

    with broker.outage():
        for sequence in range(1, 21):
            await write_outbox(platform, [erased(lead, sequence)])
        assert await relay.pending() == 20
        await wait_for(lambda: relay.last_error, timeout_s=60, message="the relay to notice")
        assert await relay.pending() == 20, "rows must stay while the broker is away"

    await wait_for(lambda: _pending_is(relay, 0), timeout_s=60, message="the outbox to drain")
    async with reading(
        platform.settings.kafka_bootstrap, platform.settings.topic(LeadErasedEvent.topic)
    ) as topic:
        records = await topic.wait_for_count(21)
    assert sequences_by_lead(records)[str(lead)] == list(range(21))


async def _pending_is(relay, count: int) -> bool:
    return await relay.pending() == count


async def test_per_key_order_holds_across_partitions(platform: Platform):
    leads = [uuid.uuid4() for _ in range(12)]
    # interleave the leads' events, in several transactions, as concurrent requests would
    for sequence in range(10):
        await write_outbox(platform, [erased(lead, sequence) for lead in leads])
    await platform.relay().start()

    async with reading(
        platform.settings.kafka_bootstrap, platform.settings.topic(LeadErasedEvent.topic)
    ) as topic:
        records = await topic.wait_for_count(120)
    partitions_of = defaultdict(set)
    for record in records:
        partitions_of[record.key].add(record.partition)
        assert record.key == json.loads(record.value)["lead_id"].encode()
    assert all(len(partitions) == 1 for partitions in partitions_of.values())
    assert len({p for ps in partitions_of.values() for p in ps}) > 1, "spread over partitions"
    assert sequences_by_lead(records) == {str(lead): list(range(10)) for lead in leads}


async def test_a_commit_wakes_the_relay_at_once_instead_of_its_slow_poll(platform: Platform):
    platform.settings = platform.settings.model_copy(update={"outbox_poll_interval_s": 60.0})
    relay = platform.relay()
    await relay.start()
    lead = uuid.uuid4()
    async with reading(
        platform.settings.kafka_bootstrap, platform.settings.topic(LeadErasedEvent.topic)
    ) as topic:
        await write_outbox(platform, [erased(lead, 1)])
        await topic.wait_for_count(1, timeout_s=10)  # the relay has done a round and now sleeps
        await write_outbox(platform, [erased(lead, 2)])
        # well inside the 60 s poll: only the commit can have woken the relay
        records = await topic.wait_for_count(2, timeout_s=10)
    assert sequences_by_lead(records)[str(lead)] == [1, 2]


async def test_the_relay_does_not_wait_for_the_flush_of_its_own_writes(platform: Platform):
    """Its marks may be lost in a crash (the rows are sent again, consumers skip them); the
    services' own commits stay synchronous."""
    platform.settings = platform.settings.model_copy(update={"outbox_poll_interval_s": 60.0})
    await write_outbox(platform, [erased(uuid.uuid4(), 1)])  # before it listens: no wake left
    relay = platform.relay()
    await relay.start()

    async def all_sent() -> bool:
        return await relay.pending() == 0

    await wait_for(all_sent, message="the row marked sent")

    async def relay_setting() -> str | None:
        assert relay._connection is not None
        try:  # its round may still be pruning; then it sleeps for the 60 s poll
            return await relay._connection.fetchval("SHOW synchronous_commit")
        except asyncpg.InterfaceError:
            return None

    assert await wait_for(relay_setting, timeout_s=5) == "off"
    async with platform.sessions() as session:
        assert (await session.execute(text("SHOW synchronous_commit"))).scalar() == "on"


async def write_outbox_unnoticed(platform: Platform, event: LeadErasedEvent) -> None:
    """An outbox row written as another process writes it: no relay of this one is woken."""
    row = platform.outbox.row(event)
    async with platform.sessions() as session, session.begin():
        await session.execute(
            text(
                f"INSERT INTO {TABLES.outbox.fullname} (topic, key, value, headers)"
                " VALUES (:topic, :key, :value, CAST(:headers AS jsonb))"
            ),
            {
                "topic": row.topic,
                "key": row.key,
                "value": row.value,
                "headers": json.dumps(row.headers),
            },
        )


async def test_a_commit_where_another_instance_publishes_wakes_that_one_at_once(
    platform: Platform,
):
    platform.settings = platform.settings.model_copy(update={"outbox_poll_interval_s": 60.0})
    publisher, other = platform.relay(), platform.relay()
    lead = uuid.uuid4()
    async with reading(
        platform.settings.kafka_bootstrap, platform.settings.topic(LeadErasedEvent.topic)
    ) as topic:
        await write_outbox(platform, [erased(lead, 1)])  # before any relay listens: no wake left
        await publisher.start()
        await topic.wait_for_count(1, timeout_s=10)  # its first round; now it sleeps
        assert publisher.publishing
        await other.start()
        await write_outbox_unnoticed(platform, erased(lead, 2))  # committed in other's process
        other.committed()
        # well inside the publisher's 60 s poll: only other's NOTIFY can have woken it
        records = await topic.wait_for_count(2, timeout_s=10)
    assert not other.publishing
    assert sequences_by_lead(records)[str(lead)] == [1, 2]


class JustBooted:
    """`time` on a machine up for five seconds: a prune timer starting as "last done at 0.0"
    would not prune before PRUNE_EVERY_S - 5 s more."""

    @staticmethod
    def monotonic() -> float:
        return 5.0


async def test_the_first_round_prunes_sent_rows_past_their_retention_whatever_the_uptime(
    platform: Platform, monkeypatch
):
    monkeypatch.setattr(relay_module, "time", JustBooted)
    outbox = TABLES.outbox.fullname
    async with platform.sessions() as session, session.begin():
        await session.execute(
            text(
                f"INSERT INTO {outbox} (topic, key, value, sent_at) VALUES "
                "('t', NULL, 'old', now() - interval '11 minutes'), "
                "('t', NULL, 'recent', now() - interval '1 minute')"
            )
        )
    await platform.relay().start()

    async def remaining() -> list[bytes] | None:
        async with platform.sessions() as session:
            values = list((await session.execute(text(f"SELECT value FROM {outbox}"))).scalars())
        return values if len(values) == 1 else None

    assert await wait_for(remaining, message="the old sent row pruned") == [b"recent"]


async def test_one_relay_of_a_shared_outbox_publishes_and_another_takes_over_when_it_stops(
    platform: Platform,
):
    lead = uuid.uuid4()
    first, second = platform.relay(), platform.relay()
    async with reading(
        platform.settings.kafka_bootstrap, platform.settings.topic(LeadErasedEvent.topic)
    ) as topic:
        await first.start()
        await write_outbox(platform, [erased(lead, 1)])
        await topic.wait_for_count(1)
        assert first.publishing

        await second.start()
        await write_outbox(platform, [erased(lead, n) for n in (2, 3)])
        await topic.wait_for_count(3)
        await write_outbox(platform, [erased(lead, 4)])  # wakes both relays
        await topic.wait_for_count(4)
        assert first.publishing and not second.publishing, "two relays published at once"

        await first.stop()
        await write_outbox(platform, [erased(lead, n) for n in (5, 6)])
        records = await topic.wait_for_count(6)
        await topic.assert_no_more(6, quiet_s=0.3)
    assert second.publishing
    assert sequences_by_lead(records)[str(lead)] == [1, 2, 3, 4, 5, 6]
