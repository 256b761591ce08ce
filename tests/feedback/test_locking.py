"""Verdicts and consumer batches add to the same hot aggregate rows (the "all" rows, one per
day) without deadlocking: a verdict never answers 503 for a conflict, and every count is exact."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.events import Envelope
from shared.settings import Settings
from tests.feedback.conftest import T0, Journey, verdict
from tests.helpers import auth, wait_for

pytestmark = pytest.mark.asyncio

JUDGED, NEWCOMERS, PARALLEL = 40, 240, 8


async def send_all(settings: Settings, events: list[Envelope]) -> None:
    """All sent at once (batched by the producer), so the consumer gets full batches."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(settings.topic(event.topic), event.to_bytes(), key=event.key())
            for event in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def counted(settings: Settings, sql: str) -> dict[str, int]:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(text(sql))).mappings().first()
            return dict(row) if row else {}
    finally:
        await engine.dispose()


async def all_row(settings: Settings) -> dict[str, int]:
    return await counted(
        settings,
        "SELECT lead, accepted, reassigned, judged FROM feedback.segment_day "
        f"WHERE day = '{T0.date()}' AND dimension = 'all'",
    )


async def test_verdicts_during_a_consumer_burst_never_conflict_and_count_exactly(
    feedback: httpx.AsyncClient,
    api_keys: dict[str, str],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    judged = [Journey() for _ in range(JUDGED)]
    await send_all(
        settings,
        [
            event
            for n, lead in enumerate(judged)
            for event in (
                lead.captured(T0, form=f"form-{n % 5}"),
                lead.mql(T0 + timedelta(minutes=5)),
                lead.assigned(T0 + timedelta(minutes=6), rep=f"rep-{n % 3}"),
            )
        ],
    )

    async def all_assigned() -> bool:
        assigned = await counted(
            settings, "SELECT count(*) AS n FROM feedback.lead_facts WHERE stage = 'assigned'"
        )
        return assigned["n"] == JUDGED

    await wait_for(all_assigned, timeout_s=60, message=f"{JUDGED} leads assigned")

    # The burst: new leads of the same day (the same "all" and form rows) and a reassignment
    # of every judged lead (its own lead_facts row, in the middle of a batch), while the
    # verdicts on those same leads arrive, several at a time.
    newcomers = [Journey() for _ in range(NEWCOMERS)]
    burst: list[Envelope] = []
    for n, lead in enumerate(newcomers):
        burst.append(lead.captured(T0 + timedelta(minutes=n % 50), form=f"form-{n % 5}"))
        if n % (NEWCOMERS // JUDGED) == 0:
            again = judged[n // (NEWCOMERS // JUDGED)]
            burst.append(
                again.assigned(T0 + timedelta(minutes=30), rep="rep-9", attempt=2, previous="x")
            )
    sending = asyncio.create_task(send_all(settings, burst))
    gate = asyncio.Semaphore(PARALLEL)

    async def judge(lead: Journey) -> httpx.Response:
        async with gate:
            return await feedback.post(
                "/v1/feedback",
                json=verdict(lead.lead_id, "accepted", quality_rating=4),
                headers=auth(api_keys["crm"]),
            )

    answers = await asyncio.gather(*(judge(lead) for lead in judged))
    await sending
    assert [a.status_code for a in answers if a.status_code != 201] == [], [
        a.text for a in answers if a.status_code != 201
    ]

    expected = {
        "lead": JUDGED + NEWCOMERS,
        "accepted": JUDGED,
        "reassigned": JUDGED,
        "judged": JUDGED,
    }

    async def settled() -> bool:
        return await all_row(settings) == expected

    await wait_for(settled, timeout_s=60, message=f"the 'all' row at {expected}")
    by_rep = await counted(
        settings,
        "SELECT sum(lead) AS lead, sum(accepted) AS accepted FROM feedback.segment_day "
        "WHERE dimension = 'rep' AND value = 'rep-9'",
    )
    assert by_rep == {"lead": JUDGED, "accepted": JUDGED}
    # Nor did a consumer batch lose to a deadlock (it would have gone again one by one).
    assert [r.getMessage() for r in caplog.records if "deadlock" in r.getMessage()] == []
