"""Scoring's use cases on real PostgreSQL: scores, MQLs, the capacity rule, recycle, erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.scoring.handlers.capacity import record_capacity
from services.scoring.handlers.leads import erase, record_activity, record_capture
from services.scoring.handlers.rescoring import rescore, sweep_decay
from services.scoring.handlers.verdicts import apply_feedback, apply_return
from services.scoring.repository import forget_active_model
from shared.events import (
    LeadErased,
    LeadErasedEvent,
    LeadFeedback,
    LeadFeedbackEvent,
    LeadReturned,
    LeadReturnedEvent,
)
from tests.helpers import UowFactory
from tests.scoring.conftest import activity, capacity, captured, published, sql

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("demo_model")]

# The demo model: a Head of Engineering at a 51-200 software company in GB, with consent, fits
# for 50 (grade A). Floor 30, base 60, ceiling 80. A demo request adds 40.


async def feed(uow: UowFactory, handler, event) -> None:  # type: ignore[no-untyped-def]
    async with uow() as unit:
        await handler(event, unit)


async def state_of(engine: AsyncEngine, lead_id: uuid.UUID | None) -> str:
    [(state,)] = await sql(
        engine, "SELECT state FROM scoring.leads WHERE lead_id = :id", id=lead_id
    )
    return str(state)


async def test_a_demo_request_from_a_good_fit_is_scored_explained_and_an_mql(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead = captured()
    await feed(uow, record_capture, lead)
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))
    scored = await published(engine, "lead.scored")
    assert [e.payload.total_score for e in scored] == [50, 90]
    rules = {r.rule: (r.points, r.kind, r.decayed_value) for r in scored[-1].payload.explanation}
    assert rules["demo_request"] == (40, "engagement", 40.0)
    assert rules["senior_title"] == (20, "fit", None)
    [mql] = await published(engine, "lead.mql")
    assert mql.lead_id == lead.lead_id and mql.payload.score == 90
    assert mql.payload.threshold == 60  # no capacity known: the base
    profile = mql.payload.profile
    assert (profile.country, profile.company_domain, profile.consent_given) == (
        "GB",
        "example.com",
        True,
    )
    assert mql.causation_id is not None and mql.correlation_id == lead.lead_id


async def test_an_activity_before_its_lead_is_captured_waits_for_the_profile(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    """Captured and activity events travel on different topics: a demo request can arrive
    first. No MQL without the profile routing needs; the capture then qualifies the lead."""
    lead = captured()
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))
    assert await published(engine, "lead.mql") == []
    assert await state_of(engine, lead.lead_id) == "nurture"
    await feed(uow, record_capture, lead)
    [mql] = await published(engine, "lead.mql")
    assert mql.payload.score == 90 and mql.payload.profile.consent_given
    assert mql.payload.profile.country == "GB"


async def test_mql_exactly_once_and_scored_only_on_change(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead = captured()
    await feed(uow, record_capture, lead)
    for _ in range(3):
        await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))
    await feed(uow, record_activity, activity(lead.lead_id, "page_view", url="/blog"))
    assert len(await published(engine, "lead.mql")) == 1
    totals = [e.payload.total_score for e in await published(engine, "lead.scored")]
    assert totals == [50, 90, 91]  # the capped repeats changed nothing


async def test_free_mail_gives_no_company_domain_and_product_interest_is_kept(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead = captured(email="ada@gmail.com", free_mail=True)
    await feed(uow, record_capture, lead)
    await feed(uow, record_activity, activity(lead.lead_id, "trial_signup", product="analytics"))
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))
    [mql] = await published(engine, "lead.mql")
    assert mql.payload.profile.company_domain is None
    assert mql.payload.profile.product_interest == "analytics"


async def test_sales_full_holds_leads_and_new_capacity_releases_best_first(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    await feed(uow, record_capacity, capacity("emea", free=0))
    leads = {}
    for fit_size, kind in (
        ("51-200", "webinar_attended"),
        ("1-10", "webinar_attended"),
        ("51-200", "content_download"),
    ):
        lead = captured(email=f"{uuid.uuid4().hex[:6]}@example.com", company_size=fit_size)
        await feed(uow, record_capture, lead)
        await feed(uow, record_activity, activity(lead.lead_id, kind))
        leads[lead.lead_id] = lead
    # 65, 50, 55: all in [30, 80), sales is full -> all held
    assert {await state_of(engine, i) for i in leads} == {"held"}
    assert await published(engine, "lead.mql") == []
    await feed(uow, record_capacity, capacity("emea", free=2))
    released = await published(engine, "lead.mql")
    assert [e.payload.score for e in released] == [65, 55]
    assert [e.payload.threshold for e in released] == [55, 55]  # the 2nd best held scored 55
    # the ledger counts them: k is 0 now, so another state of the same team is needed
    await feed(uow, record_activity, activity(list(leads)[1], "page_view"))
    assert len(await published(engine, "lead.mql")) == 2


async def test_a_lead_at_the_ceiling_goes_even_when_sales_is_full(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    await feed(uow, record_capacity, capacity("emea", free=1, queue=3))
    lead = captured()
    await feed(uow, record_capture, lead)
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))
    [mql] = await published(engine, "lead.mql")
    assert mql.payload.threshold == 80


async def test_below_the_floor_is_nurture_and_slack_takes_anything_above_it(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    await feed(uow, record_capacity, capacity("emea", free=5))
    weak = captured(job_title="Intern", company_size="1-10", industry="retail")
    await feed(uow, record_capture, weak)
    assert await state_of(engine, weak.lead_id) == "nurture"
    fair = captured(job_title="Analyst", industry="retail")  # 15 + 5 = 20, + webinar 15 = 35
    await feed(uow, record_capture, fair)
    await feed(uow, record_activity, activity(fair.lead_id, "webinar_attended"))
    [mql] = await published(engine, "lead.mql")
    assert (mql.lead_id, mql.payload.threshold) == (fair.lead_id, 30)


async def test_decay_lets_a_held_lead_fall_back_into_nurture(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    await feed(uow, record_capacity, capacity("emea", free=0))
    lead = captured(job_title="Analyst", industry="retail")  # fit 20
    await feed(uow, record_capture, lead)
    await feed(uow, record_activity, activity(lead.lead_id, "webinar_attended"))  # 35
    assert await state_of(engine, lead.lead_id) == "held"
    async with uow() as unit:
        assert await sweep_decay(unit, datetime.now(UTC) + timedelta(days=21)) == 1
    assert await state_of(engine, lead.lead_id) == "nurture"
    assert (await published(engine, "lead.scored"))[-1].payload.total_score == 28  # 20 + 7.5


async def test_recycle_then_requalify_only_with_fresh_activity_after_the_cooldown(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead = captured()
    await feed(uow, record_capture, lead)
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))
    verdict = LeadFeedback(verdict="recycled", reason_code="bad_timing")
    await feed(
        uow,
        apply_feedback,
        LeadFeedbackEvent(producer="feedback", lead_id=lead.lead_id, payload=verdict),
    )
    assert await state_of(engine, lead.lead_id) == "recycled"
    assert (await published(engine, "lead.scored"))[-1].payload.engagement_score == 0
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))  # in the cooldown
    assert len(await published(engine, "lead.mql")) == 1
    await sql(engine, "SELECT 1")
    async with uow() as unit:  # the cooldown ends (moved back rather than waiting 30 days)
        await unit.session.execute(
            text(
                "UPDATE scoring.leads SET cooldown_until = now() - interval '1 minute', "
                "engagement_since = now() - interval '1 minute' WHERE lead_id = :id"
            ),
            {"id": lead.lead_id},
        )
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))
    mqls = await published(engine, "lead.mql")
    assert len(mqls) == 2 and mqls[-1].payload.score == 90


async def test_too_many_returns_keep_a_lead_in_nurture_and_spam_stops_it(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead = captured()
    await feed(uow, record_capture, lead)
    returned = LeadReturned(reason="x", failed_criterion="country", criteria_version="1")
    for _ in range(3):
        await feed(
            uow,
            apply_return,
            LeadReturnedEvent(producer="routing", lead_id=lead.lead_id, payload=returned),
        )
    assert await state_of(engine, lead.lead_id) == "exhausted"
    spam = captured(email="bot@example.com")
    await feed(uow, record_capture, spam)
    rejected = LeadFeedback(verdict="rejected", reason_code="spam")
    await feed(
        uow,
        apply_feedback,
        LeadFeedbackEvent(producer="feedback", lead_id=spam.lead_id, payload=rejected),
    )
    await feed(uow, record_activity, activity(spam.lead_id, "demo_request"))
    assert await state_of(engine, spam.lead_id) == "disqualified"
    assert [e.lead_id for e in await published(engine, "lead.mql")] == []


async def test_erasure_removes_the_person_and_keeps_only_anonymous_facts(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead = captured()
    await feed(uow, record_capture, lead)
    await feed(uow, record_activity, activity(lead.lead_id, "page_view", url="/pricing?me=ada"))
    await feed(
        uow, erase, LeadErasedEvent(producer="capture", lead_id=lead.lead_id, payload=LeadErased())
    )
    [row] = await sql(engine, "SELECT * FROM scoring.leads WHERE lead_id = :id", id=lead.lead_id)
    kept = {k: v for k, v in row._mapping.items() if v not in (None, False, 0)}
    assert set(kept) == {"lead_id", "state", "created_at"}, kept  # a tombstone, nothing more
    assert await sql(engine, "SELECT * FROM scoring.activities") == []
    # never judged: no outcome, so no evidence is kept (test_learning_handlers has a judged one)
    assert await sql(engine, "SELECT * FROM scoring.outcomes") == []
    await feed(uow, record_activity, activity(lead.lead_id, "demo_request"))  # late: ignored
    assert await sql(engine, "SELECT * FROM scoring.activities") == []


async def test_leads_seen_before_any_model_are_scored_on_activation(
    uow: UowFactory, engine: AsyncEngine
) -> None:
    lead = captured()
    await sql(engine, "SELECT 1")
    async with uow() as unit:
        await unit.session.execute(text("UPDATE scoring.models SET status = 'retired'"))
    forget_active_model()
    await feed(uow, record_capture, lead)
    assert await published(engine, "lead.scored") == []
    async with uow() as unit:
        await unit.session.execute(text("UPDATE scoring.models SET status = 'active'"))
    forget_active_model()
    async with uow() as unit:
        assert await rescore(unit) == 1
    async with uow() as unit:
        assert await rescore(unit) == 0
    assert len(await published(engine, "lead.scored")) == 1
