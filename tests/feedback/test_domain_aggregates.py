"""Report aggregates (domain/aggregates.py): incremental diffs add up to the sums from scratch."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.feedback.domain import aggregates as agg
from services.feedback.domain import facts as f
from services.feedback.domain.stages import allowed_verdicts
from shared.events import Verdict as V
from tests.feedback.conftest import T0
from tests.feedback.domain_helpers import journey

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
            tally.add_net(agg.net(before, after))  # how a transaction counts a lead
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
