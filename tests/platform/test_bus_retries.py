"""The consumer runner when a handler fails: a retry, its outbox rolled back, a lost connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared.events import LeadErased, LeadErasedEvent
from shared.uow import UnitOfWork
from tests.helpers import reading, wait_for
from tests.platform.bus_helpers import erased, has_effects
from tests.platform.conftest import Platform, record_effect

pytestmark = pytest.mark.asyncio


async def test_handler_that_fails_once_then_succeeds_has_its_effect_exactly_once(
    platform: Platform,
):
    calls = []

    async def flaky(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        calls.append(event.event_id)
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)
        if len(calls) == 1:
            raise RuntimeError("transient failure after writing")

    runner = platform.runner({LeadErasedEvent: flaky})
    await runner.start()
    event = erased("flaky")
    await platform.send(event)

    effects = await wait_for(platform.effects, message="the effect")
    assert effects == [(str(event.lead_id), "flaky")]
    assert len(calls) == 2
    await platform.send(erased("second"))
    await wait_for(lambda: has_effects(platform, 2), message="a second effect")
    assert [value for _, value in await platform.effects()] == ["flaky", "second"]


async def test_handler_outbox_rows_commit_with_its_state(platform: Platform):
    """An event a handler publishes exists only if its transaction committed."""

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        await record_effect(str(event.lead_id), "seen")(uow.session)
        if event.payload.reason == "echo":
            return
        await uow.publish(
            LeadErasedEvent.caused_by(event, producer="test", payload=LeadErased(reason="echo"))
        )
        if event.payload.reason == "fail":
            raise RuntimeError("roll everything back")

    await platform.runner({LeadErasedEvent: handler}).start()
    await platform.relay().start()
    topic_name = platform.settings.topic(LeadErasedEvent.topic)
    bootstrap = platform.settings.kafka_bootstrap
    async with (
        reading(bootstrap, topic_name) as topic,
        reading(bootstrap, f"{topic_name}.dlq") as dlq,
    ):
        await platform.send(erased("fail"))
        await platform.send(erased("ok"))
        # The failing input's handling is over once it is in the DLQ; only then can a quiet
        # window show that none of its attempts' follow-ups got out.
        [dead] = await dlq.wait_for_count(1)
        assert b'"reason":"fail"' in dead.value
        # two inputs, one follow-up: the failing handler's follow-up was rolled back each time
        records = await topic.wait_for_count(3)
        await topic.assert_no_more(3, quiet_s=0.5)
    reasons = sorted(r.value.split(b'"reason":"')[1].split(b'"')[0] for r in records)
    assert reasons == [b"echo", b"fail", b"ok"]


async def test_a_connection_the_database_drops_mid_handler_is_an_outage_not_a_failure(
    platform: Platform,
):
    calls = []

    async def handler(event: LeadErasedEvent, uow: UnitOfWork) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:  # what a PostgreSQL restart does to a busy connection
            await uow.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await record_effect(str(event.lead_id), event.payload.reason)(uow.session)

    runner = platform.runner({LeadErasedEvent: handler})
    await runner.start()
    event = erased("survived")
    await platform.send(event)

    assert await wait_for(platform.effects, message="the effect after the outage") == [
        (str(event.lead_id), "survived")
    ]
    assert runner.running, "the loop outlives the outage"
    assert runner.last_error and "connection" in runner.last_error.lower()
    assert len(calls) == 2
