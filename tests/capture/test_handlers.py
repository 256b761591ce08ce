"""Capture's use cases over a request's unit of work, on the test's real database: a new lead is
one lone statement (no session opened), anything else waits for the edge to commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
import pytest_asyncio

from services.capture import handlers
from services.capture.handlers import CaptureLead, EraseLead
from services.capture.models import platform
from services.capture.schemas import LeadIn
from shared.db import StatementPool, asyncpg_dsn, create_engine, session_factory
from shared.idempotency import IdempotentCall
from shared.outbox import Outbox
from shared.problems import NotFound
from shared.settings import Settings
from shared.uow import UnitOfWork

pytestmark = pytest.mark.asyncio

UowFactory = Callable[[], UnitOfWork]


@pytest_asyncio.fixture
async def new_uow(settings: Settings) -> AsyncIterator[UowFactory]:
    """Units of work as a request gets them (`shared.service.get_uow`): opened on demand."""
    engine = create_engine(settings.database_url, pool_size=2)
    statements = StatementPool(settings.database_url, 2)
    outbox = Outbox(platform, settings, "capture")
    sessions = session_factory(engine)
    yield lambda: UnitOfWork.on_demand(sessions, outbox, settings, statements)
    await statements.close()
    await engine.dispose()


async def stored(settings: Settings) -> tuple[list[str], int, int]:
    """(companies of the leads, outbox rows, idempotency keys) as another connection sees them."""
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        companies = await connection.fetch(
            "SELECT contact->>'company' AS company FROM capture.leads ORDER BY created_at"
        )
        events = await connection.fetchval("SELECT count(*) FROM capture.outbox")
        keys = await connection.fetchval("SELECT count(*) FROM capture.idempotent_requests")
    finally:
        await connection.close()
    return [row["company"] for row in companies], events, keys


def lead(company: str) -> CaptureLead:
    return CaptureLead(LeadIn(email="ada@example.com", company=company))


async def test_a_new_lead_is_one_lone_statement_and_opens_no_session(
    settings: Settings, new_uow: UowFactory
):
    uow = new_uow()
    captured = await handlers.capture_lead(lead("Acme"), uow)

    assert captured.answer.merged is False
    assert not uow.begun, "the fast path must not open the ORM session"
    assert await stored(settings) == (["Acme"], 1, 0), "committed by its one statement"
    await uow.end(commit=True)


async def test_a_merge_is_written_in_the_session_and_committed_by_the_edge_only(
    settings: Settings, new_uow: UowFactory
):
    first = new_uow()
    created = await handlers.capture_lead(lead("Acme"), first)
    await first.end(commit=True)

    uow = new_uow()
    merged = await handlers.capture_lead(lead("Acme Ltd"), uow)
    assert merged.answer.merged is True
    assert merged.answer.lead_id == created.answer.lead_id
    assert uow.begun
    assert await stored(settings) == (["Acme"], 1, 0), "nothing visible before the edge commits"

    await uow.end(commit=True)
    assert await stored(settings) == (["Acme Ltd"], 2, 0)


async def test_a_new_lead_after_an_idempotency_claim_goes_in_the_transaction(
    settings: Settings, new_uow: UowFactory
):
    call = IdempotentCall(uuid.uuid4(), "key-1", "hash-1")
    uow = new_uow()
    captured = await handlers.capture_lead(CaptureLead(lead("Acme").lead, call), uow)
    assert captured.answer.merged is False
    await uow.end(commit=False)  # e.g. the answer could not be sent: all or nothing

    assert await stored(settings) == ([], 0, 0), "the lead, its event and the key roll back"

    again = new_uow()
    retried = await handlers.capture_lead(CaptureLead(lead("Acme").lead, call), again)
    await again.end(commit=True)
    replayed = new_uow()
    replay = await handlers.capture_lead(CaptureLead(lead("Acme").lead, call), replayed)
    await replayed.end(commit=True)

    assert (retried.replayed, replay.replayed) == (False, True)
    assert replay.answer == retried.answer
    assert await stored(settings) == (["Acme"], 1, 1)


async def test_erasing_an_unknown_lead_raises_not_found_naming_the_lead(new_uow: UowFactory):
    lead_id = uuid.uuid4()
    uow = new_uow()
    with pytest.raises(NotFound) as refused:
        await handlers.erase_lead(EraseLead(lead_id, "tester", None), uow)
    await uow.end(commit=False)

    assert refused.value.status == 404
    assert [(p.field, p.reason) for p in refused.value.problems] == [
        ("lead_id", "is not a known lead")
    ]
