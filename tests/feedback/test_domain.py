"""Feedback's pure rules: the verdict state machine, who may judge, lead facts and reports."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.domain import aggregates as agg
from services.feedback.domain import facts as f
from services.feedback.domain import histogram
from services.feedback.domain.histogram import bucket_of, bucket_value
from services.feedback.domain.judge import NotYours, acting_rep
from services.feedback.domain.reports import (
    flow_row,
    funnel_row,
    quality_row,
    sla_row,
    speed_row,
    to_csv,
)
from services.feedback.domain.stages import (
    ALLOWED,
    IllegalStep,
    Stage,
    allowed_verdicts,
    next_stage,
    stage_after_assignment,
)
from services.feedback.domain.verdicts import content_problems
from shared.events import ReasonCode, Verdict
from shared.problems import Problem

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
V = Verdict

# ---- the state machine -------------------------------------------------------------------------

LEGAL = {
    (Stage.assigned, V.accepted),
    (Stage.assigned, V.rejected),
    (Stage.assigned, V.recycled),
    (Stage.accepted, V.converted),
    (Stage.accepted, V.won),
    (Stage.accepted, V.lost),
    (Stage.accepted, V.recycled),
    (Stage.converted, V.won),
    (Stage.converted, V.lost),
}


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("verdict", list(Verdict))
def test_the_machine_allows_exactly_the_written_steps(stage: Stage, verdict: Verdict) -> None:
    if (stage, verdict) in LEGAL:
        assert next_stage(stage, verdict) == Stage(verdict.value)
    else:
        with pytest.raises(IllegalStep) as refused:
            next_stage(stage, verdict)
        assert refused.value.status == 409
        assert stage.value in refused.value.detail and verdict.value in refused.value.detail


def test_an_illegal_step_names_the_current_stage_and_the_allowed_verdicts() -> None:
    with pytest.raises(IllegalStep) as refused:
        next_stage(Stage.assigned, V.won)
    assert refused.value.detail == "the lead is assigned; it cannot become won"
    assert refused.value.problems == [
        Problem("verdict", "allowed from assigned: accepted, rejected, recycled")
    ]


def test_no_verdict_before_a_rep_and_none_after_the_round_ends() -> None:
    with pytest.raises(IllegalStep, match="mql") as early:
        next_stage(Stage.mql, V.accepted)
    assert "before the lead is assigned" in early.value.problems[0].reason
    with pytest.raises(IllegalStep) as late:
        next_stage(Stage.rejected, V.accepted)
    assert "work ended at rejected" in late.value.problems[0].reason


def test_won_only_after_accepted_or_converted() -> None:
    assert {s for s in Stage if V.won in ALLOWED[s]} == {Stage.accepted, Stage.converted}


@given(st.lists(st.sampled_from(list(Verdict)), max_size=8))
def test_any_run_of_verdicts_ends_the_round_at_most_once(verdicts: list[Verdict]) -> None:
    stage, ended = Stage.assigned, 0
    for verdict in verdicts:
        if verdict not in ALLOWED[stage]:
            continue
        stage = next_stage(stage, verdict)
        ended += stage in {Stage.rejected, Stage.recycled, Stage.won, Stage.lost}
        assert (stage in {Stage.won, Stage.lost}) <= (V.accepted in verdicts)
    assert ended <= 1
    assert allowed_verdicts(stage) == tuple(v for v in Verdict if v in ALLOWED[stage])


def test_a_reassignment_keeps_an_open_deal_and_reopens_anything_else() -> None:
    assert stage_after_assignment(Stage.accepted) is Stage.accepted
    assert stage_after_assignment(Stage.converted) is Stage.converted
    for stage in (Stage.mql, Stage.queued, Stage.assigned, Stage.recycled, Stage.won):
        assert stage_after_assignment(stage) is Stage.assigned


# ---- who may judge -----------------------------------------------------------------------------


def test_a_sales_key_judges_only_its_own_reps_leads() -> None:
    assert acting_rep("sales", "rep-1", "rep-1") == "rep-1"
    with pytest.raises(NotYours, match="another rep, not to rep-1") as other:
        acting_rep("sales", "rep-1", "rep-2")
    assert other.value.status == 403
    with pytest.raises(NotYours, match="not assigned to any rep"):
        acting_rep("sales", "rep-1", None)
    with pytest.raises(NotYours, match="not bound to a rep"):
        acting_rep("sales", None, "rep-1")


def test_a_crm_key_judges_any_lead_for_its_assignee_and_marketing_none() -> None:
    assert acting_rep("crm", None, "rep-7") == "rep-7"
    assert acting_rep("admin", None, "rep-7") == "rep-7"
    with pytest.raises(NotYours, match="a marketing key may not give verdicts"):
        acting_rep("marketing", None, "rep-7")


def test_content_problems_name_every_field_at_once() -> None:
    assert content_problems(V.accepted, None, None, None) == []
    assert content_problems(V.won, None, Decimal(10), "EUR") == []
    [reason] = content_problems(V.lost, None, None, None)
    assert reason.field == "reason_code" and "no_budget" in reason.reason
    fields = [p.field for p in content_problems(V.rejected, None, Decimal(1), "EUR")]
    assert fields == ["reason_code", "deal_value", "currency"]
    assert [p.field for p in content_problems(V.won, None, Decimal(1), None)] == ["currency"]
    assert [p.field for p in content_problems(V.won, None, None, "EUR")] == ["deal_value"]
    assert content_problems(V.recycled, ReasonCode.bad_timing, None, None) == []


# ---- lead facts --------------------------------------------------------------------------------

TOUCH = {"source": "ads", "form": "demo", "utm_campaign": "spring"}


def journey() -> f.LeadFacts:
    facts = f.captured(f.LeadFacts.first_seen(T0), T0, merged=False, touch=TOUCH)
    facts = f.qualified(facts, T0 + timedelta(hours=1), model_version="m2")
    return f.assigned(
        facts,
        T0 + timedelta(hours=2),
        rep="rep-1",
        team="emea",
        due=T0 + timedelta(hours=26),
        attempt=1,
    )


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


# Random journeys: whatever happens, the incremental changes add up to the aggregates computed
# from scratch over the leads' final facts. This is what keeps the report tables exact.
EVENTS = st.sampled_from(["captured", "mql", "queued", "returned", "assigned", "verdict"])


def apply(facts: f.LeadFacts, kind: str, at: datetime, pick: int) -> f.LeadFacts:
    if kind == "captured":
        return f.captured(facts, at, merged=pick % 2 == 0, touch={"source": f"s{pick % 3}"})
    if kind == "mql":
        return f.qualified(facts, at, model_version=f"m{pick % 2}")
    if kind == "queued":
        return f.queued(facts, at, team=f"t{pick % 2}")
    if kind == "returned":
        return f.returned(facts, at)
    if kind == "assigned":
        return f.assigned(
            facts,
            at,
            rep=f"r{pick % 3}",
            team="t0",
            due=at + timedelta(hours=1),
            attempt=1 + pick % 2,
        )
    allowed = allowed_verdicts(facts.stage)
    if not allowed:
        return facts
    verdict = allowed[pick % len(allowed)]
    deal = ("EUR", Decimal(pick)) if verdict is V.won else None
    return f.judged(facts, at, verdict=verdict, reason_code="spam", rating=1 + pick % 5, deal=deal)


@given(
    st.lists(
        st.lists(
            st.tuples(EVENTS, st.integers(0, 500), st.integers(0, 20)), min_size=1, max_size=12
        ),
        min_size=1,
        max_size=6,
    )
)
def test_incremental_diffs_add_up_to_the_aggregates_from_scratch(leads: list) -> None:
    aggregates: dict = {}
    tally = agg.Tally()  # the same changes, as one transaction adds them all at its commit
    finals = []
    for events in leads:
        facts = f.LeadFacts.first_seen(T0 + timedelta(minutes=events[0][1]))
        before = None
        for kind, minutes, pick in events:
            facts = apply(facts, kind, T0 + timedelta(minutes=minutes), pick)
            after = agg.contribution(facts)
            changes = agg.diff(before, after)
            tally.add(changes)
            for table, key, values in changes:
                row = aggregates.setdefault((table, key), {})
                for column, amount in values.items():
                    row[column] = row.get(column, 0) + amount
            before = after
        finals.append(facts)
    expected = agg.summed(agg.contribution(facts) for facts in finals)
    nonzero = {k: v for k, v in aggregates.items() if any(v.values())}
    assert nonzero == {k: v for k, v in expected.items() if any(v.values())}
    tallied = tally.changes()
    assert {(table, key): values for table, key, values in tallied} == nonzero
    rows_in_order = [(table, key) for table, key, _ in tallied]
    assert rows_in_order == sorted(set(rows_in_order), key=agg.lock_order)
    for facts in finals:
        assert f.Step.lead in facts.steps
        if f.Step.won in facts.steps:
            assert {f.Step.accepted, f.Step.opportunity} <= facts.steps


def test_diff_is_sorted_and_leaves_out_unchanged_rows() -> None:
    before = agg.contribution(journey())
    moved = f.assigned(
        journey(), T0 + timedelta(days=1), rep="rep-0", team="emea", due=T0, attempt=1
    )
    changes = agg.diff(before, agg.contribution(moved))
    day = T0.date()
    # Only the rep grouping changes: the lead leaves rep-1's rows and joins rep-0's, its
    # counts and its speed histograms alike.
    assert {key[1] for _, key, _ in changes} == {"rep"}
    assert [(table, key) for table, key, _ in changes if table == "segment_day"] == [
        ("segment_day", (day, "rep", "rep-0")),
        ("segment_day", (day, "rep", "rep-1")),
    ]
    speed = [key[2:4] for table, key, _ in changes if table == "speed_day"]
    assert sorted(speed) == sorted(
        [
            (rep, span)
            for rep in ("rep-0", "rep-1")
            for span in ("capture_to_mql", "mql_to_assignment")
        ]
    )
    assert changes[0][2]["lead"] == 1 and changes[1][2]["lead"] == -1
    assert changes == sorted(changes, key=lambda c: agg.lock_order((c[0], c[1])))
    assert agg.diff(before, before) == []


def test_each_lead_counts_once_in_every_grouping() -> None:
    rows = agg.rows(agg.contribution(journey()))
    keys = sorted(key[1:] for table, key in rows if table == "segment_day")
    assert keys == sorted(
        [
            ("all", ""),
            ("source", "ads"),
            ("form", "demo"),
            ("utm_source", ""),
            ("utm_medium", ""),
            ("utm_campaign", "spring"),
            ("team", "emea"),
            ("rep", "rep-1"),
            ("model_version", "m2"),
        ]
    )


# ---- report arithmetic -------------------------------------------------------------------------


def test_funnel_rates_follow_the_steps() -> None:
    row = funnel_row({"lead": 10, "mql": 4, "sql": 3, "accepted": 2, "opportunity": 1, "won": 1})
    assert row["lead_to_mql"] == 0.4 and row["mql_to_sql"] == 0.75
    assert row["sql_to_accepted"] == 0.6667 and row["accepted_to_opportunity"] == 0.5
    assert row["opportunity_to_won"] == 1.0 and row["lead_to_won"] == 0.1
    assert row["rejected"] == 0
    assert funnel_row({})["lead_to_mql"] is None


def test_quality_row() -> None:
    row = quality_row(
        {
            "lead": 5,
            "judged": 4,
            "accepted": 3,
            "rejected": 1,
            "rating_sum": 10,
            "rating_count": 3,
            "won": 1,
        },
        {"spam": 1},
        {"USD": Decimal("5"), "EUR": Decimal("10.50")},
    )
    assert row["acceptance_rate"] == 0.75 and row["win_rate"] == 0.3333
    assert row["mean_rating"] == 3.33 and row["reasons"] == {"spam": 1}
    assert row["revenue"] == {"EUR": "10.50", "USD": "5"}


def exact_percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont, written out for the comparison."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return low + (high - low) * (position - math.floor(position))


def test_buckets_cover_durations_in_order_and_stand_for_their_middle() -> None:
    assert bucket_of(-5) == bucket_of(0) == bucket_of(0.99) == 0
    assert bucket_of(1) == 1 and bucket_of(2) == 9 and bucket_of(365 * 86400) == 200
    for seconds in (1.0, 7.5, 90.0, 3600.0, 86400.0 * 3):
        assert abs(bucket_value(bucket_of(seconds)) / seconds - 1) <= 0.045
    assert histogram.percentile({}, 0.5) is None
    assert speed_row({}) == {"p50_s": None, "p90_s": None, "leads": 0}


@given(st.lists(st.floats(1, 3e7), min_size=1, max_size=60), st.sampled_from([0.5, 0.9]))
def test_a_percentile_from_buckets_is_within_the_bucket_resolution(
    values: list[float], q: float
) -> None:
    counts: dict[int, int] = {}
    for value in values:
        counts[bucket_of(value)] = counts.get(bucket_of(value), 0) + 1
    estimate = histogram.percentile(counts, q)
    assert estimate is not None
    assert abs(estimate / exact_percentile(values, q) - 1) <= 0.045


def test_sla_and_flow_rows() -> None:
    assert sla_row(3, 1)["sla_compliance"] == 0.75
    assert sla_row(0, 0)["sla_compliance"] is None
    assert flow_row(12, 10, 3) == {
        "mqls": 12,
        "capacity": 10,
        "mqls_per_capacity": 1.2,
        "queue_length": 3,
    }
    assert flow_row(2, None, None)["mqls_per_capacity"] is None


def test_csv_flattens_nested_columns_and_leaves_none_empty() -> None:
    text = to_csv(
        [
            {"group": "a", "revenue": {"EUR": "1"}, "rate": None},
            {"group": "b", "revenue": {}, "rate": 0.5},
        ]
    )
    assert text == "group,revenue.EUR,rate\r\na,1,\r\nb,,0.5\r\n"
