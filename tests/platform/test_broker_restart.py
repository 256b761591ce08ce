"""The whole path, outbox -> relay -> broker -> consumer -> effect, through a broker outage in
the middle of a run: nothing lost, nothing doubled, each lead's events in order.

On Apache Kafka (`make test-kafka`) the broker is really stopped and started again with its data
on disk. The embedded broker keeps its data only in memory, so there the outage freezes it
instead (see `tests/brokers.py`); the test says which it did.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest

from shared.broker import BrokerProbe
from shared.events import LeadErased, LeadErasedEvent
from shared.relay import OutboxRelay
from shared.uow import UnitOfWork
from tests.brokers import Broker, broker_from_environment
from tests.helpers import wait_for
from tests.platform.conftest import Platform, record_effect

LEADS = 4
EVENTS_PER_LEAD = 30


async def write_events(
    platform: Platform, leads: list[uuid.UUID], sequences: range, pause_s: float
) -> None:
    """One transaction per round, each holding one event per lead, as requests would."""
    for sequence in sequences:
        async with platform.sessions() as session, session.begin():
            for lead in leads:
                await platform.outbox.add(
                    session,
                    LeadErasedEvent(
                        producer="test", lead_id=lead, payload=LeadErased(reason=str(sequence))
                    ),
                )
        await asyncio.sleep(pause_s)  # pacing the writer, not waiting for a result


@pytest.mark.broker_outage
@pytest.mark.asyncio
async def test_a_broker_restart_during_a_run_loses_nothing_and_doubles_nothing(
    platform: Platform, broker: Broker, capsys
):
    async def record(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    leads = [uuid.uuid4() for _ in range(LEADS)]
    runner = platform.runner({LeadErasedEvent: record}, group_id="restart")
    relay = platform.relay()
    await runner.start()
    await relay.start()
    probe = BrokerProbe(platform.settings.kafka_bootstrap)  # what /readyz asks
    try:
        await _restart_during_a_run(platform, broker, capsys, leads, relay, probe)
    finally:
        await probe.close()


async def _restart_during_a_run(
    platform: Platform,
    broker: Broker,
    capsys: pytest.CaptureFixture[str],
    leads: list[uuid.UUID],
    relay: OutboxRelay,
    probe: BrokerProbe,
) -> None:
    assert await probe.reachable(), "the readiness probe before the outage"

    half = EVENTS_PER_LEAD // 2
    await write_events(platform, leads, range(half), pause_s=0.01)
    await wait_for(
        lambda: _effects_at_least(platform, LEADS),
        timeout_s=30,
        message="the pipeline to run before the outage",
    )
    with broker.outage():
        await write_events(platform, leads, range(half, EVENTS_PER_LEAD), pause_s=0.01)
        await wait_for(
            lambda: relay.last_error, timeout_s=60, message="the relay to notice the outage"
        )
        assert not await probe.reachable(), "the readiness probe during the outage"
    with capsys.disabled():
        print(f"\n  broker outage: {broker.outage_kind}")

    await wait_for(
        lambda: _pending_is(relay, 0),
        timeout_s=120,
        message="the outbox to drain after the broker returned",
    )
    await wait_for(probe.reachable, timeout_s=30, message="the readiness probe after it")
    # A last event per lead, written after everything else was published: once its effect is
    # there, every record before it on the lead's partition (copies too) has been consumed.
    await write_events(platform, leads, range(EVENTS_PER_LEAD, EVENTS_PER_LEAD + 1), pause_s=0)
    effects = await wait_for(
        lambda: _effects_with_last_of_each(platform, leads),
        timeout_s=120,
        message="every lead's last effect",
    )

    by_lead: dict[str, list[int]] = defaultdict(list)
    for lead, sequence in effects:
        by_lead[lead].append(int(sequence))
    every_event = list(range(EVENTS_PER_LEAD + 1))
    assert by_lead == {str(lead): every_event for lead in leads}, (
        "an event was lost, had a second effect, or came out of order"
    )


async def _effects_with_last_of_each(platform: Platform, leads: list[uuid.UUID]):
    effects = await platform.effects()
    last = {lead for lead, sequence in effects if int(sequence) == EVENTS_PER_LEAD}
    return effects if last == {str(lead) for lead in leads} else None


async def _effects_at_least(platform: Platform, count: int) -> bool:
    return len(await platform.effects()) >= count


async def _pending_is(relay, count: int) -> bool:
    return await relay.pending() == count


def test_an_outage_on_a_broker_without_its_control_command_fails_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("HANDOFF_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    monkeypatch.delenv("HANDOFF_TEST_KAFKA_CONTROL", raising=False)
    broker = broker_from_environment()
    message = ""
    try:
        with broker.outage():
            raise AssertionError("the block must not run without a way to stop the broker")
    except pytest.skip.Exception:
        pytest.fail("the outage was skipped: a missing control command must fail the test")
    except pytest.fail.Exception as failed:
        message = str(failed)
    assert "HANDOFF_TEST_KAFKA_CONTROL" in message, "the failure names what is missing"
