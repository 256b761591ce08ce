"""A lead's facts (domain/facts.py): steps, segment, SLA, reassignments, events out of order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.feedback.domain import facts as f
from services.feedback.domain.stages import Stage
from shared.events import Verdict as V
from tests.feedback.conftest import T0
from tests.feedback.domain_helpers import TOUCH, journey


def test_a_journey_reaches_its_steps_and_segment() -> None:
    facts = journey()
    assert facts.stage is Stage.assigned
    assert facts.steps == {f.Step.lead, f.Step.mql, f.Step.sql}
    assert facts.segment == f.Segment(
        source="ads",
        form="demo",
        utm_campaign="spring",
        team="emea",
        rep="rep-1",
        model_version="m2",
    )
    won = f.judged(
        f.judged(
            facts,
            T0 + timedelta(hours=3),
            verdict=V.accepted,
            reason_code=None,
            rating=4,
            deal=None,
        ),
        T0 + timedelta(days=9),
        verdict=V.won,
        reason_code=None,
        rating=None,
        deal=("EUR", Decimal("1200")),
    )
    assert won.stage is Stage.won and f.Step.opportunity in won.steps
    assert won.first_verdict_at == T0 + timedelta(hours=3) and won.sla_met is True
    assert won.rating == 4 and won.revenue == ("EUR", Decimal("1200"))


def test_events_out_of_order_across_topics_do_not_move_the_stage_back() -> None:
    facts = f.LeadFacts.first_seen(T0 + timedelta(hours=2))
    facts = f.assigned(facts, T0 + timedelta(hours=2), rep="r", team="t", due=T0, attempt=1)
    facts = f.qualified(facts, T0 + timedelta(hours=1), model_version="m1")  # late
    facts = f.captured(facts, T0, merged=False, touch=TOUCH)  # late
    assert facts.stage is Stage.assigned and facts.day == T0.date()
    assert facts.mql_at == T0 + timedelta(hours=1) and facts.captured_at == T0
    assert facts.segment.source == "ads" and facts.segment.model_version == "m1"


def test_a_late_verdict_misses_the_sla_and_a_reassignment_is_counted() -> None:
    facts = f.assigned(
        journey(),
        T0 + timedelta(hours=27),
        rep="rep-2",
        team="emea",
        due=T0 + timedelta(hours=50),
        attempt=2,
    )
    assert facts.reassigned == 1 and facts.segment.rep == "rep-2"
    late = f.judged(
        facts, T0 + timedelta(hours=51), verdict=V.rejected, reason_code="spam", rating=1, deal=None
    )
    assert late.sla_met is False and late.reason == ("rejected", "spam")


def test_a_merged_capture_changes_no_attribution() -> None:
    facts = f.captured(journey(), T0 + timedelta(days=3), merged=True, touch={"source": "other"})
    assert facts.segment.source == "ads" and facts.day == T0.date()
