"""Routing's pure decisions: criteria, rules, eligibility, strategies, stickiness, hours."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing.domain.capacity import capacity
from services.routing.domain.criteria import Criteria, CriteriaError, Rules, Status
from services.routing.domain.deadlines import follow_up_due
from services.routing.domain.decision import explain, place
from services.routing.domain.eligibility import Skip, skips
from services.routing.domain.evaluation import Candidate, evaluate
from services.routing.domain.hours import HoursError, Period
from services.routing.domain.hours_text import format_hours, parse_hours
from services.routing.domain.org import STICKY, Lead, Rep, Strategy, Team
from services.routing.domain.rules import Rule, match_rule
from services.routing.domain.strategies import served, team_clock

ALWAYS = parse_hours("UTC", "always")
MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
LEAD = Lead(score=80, grade="A", country="GB", language="en", company_size="51-200")


def rep(rep_id: str = "r1", **fields: Any) -> Rep:
    base: dict[str, Any] = dict(
        id=rep_id, email=f"{rep_id}@x.io", name=rep_id, team_id="t", capacity=5, hours=ALWAYS
    )
    return Rep(**(base | fields))


def candidate(**fields: Any) -> Candidate:
    base: dict[str, Any] = dict(score=70, grade="B", consent_given=True, profile={"country": "GB"})
    return Candidate(**(base | fields))


# ---- criteria ---------------------------------------------------------------------------------


def test_criteria_pass_and_name_the_first_failure() -> None:
    rules = Rules(required_fields=("country", "company"), min_grade="B", min_score=50)
    criteria = Criteria(3, rules, Status.active)
    assert evaluate(criteria, candidate(profile={"country": "GB", "company": "X"})).passed
    verdict = evaluate(criteria, candidate())
    assert (verdict.passed, verdict.failed_criterion, verdict.version) == (
        False,
        "required_fields.company",
        3,
    )
    full = {"country": "GB", "company": "X"}
    assert evaluate(criteria, candidate(profile=full, grade="C")).failed_criterion == "min_grade"
    assert evaluate(criteria, candidate(profile=full, score=10)).failed_criterion == "min_score"
    no_consent = candidate(profile=full, consent_given=False)
    assert evaluate(criteria, no_consent).failed_criterion == "consent_required"


def test_excluded_segments_and_countries_fail_case_insensitively() -> None:
    rules = Rules(excluded_countries=frozenset({"ru"}), excluded_industries=frozenset({"Gambling"}))
    criteria = Criteria(1, rules)
    assert evaluate(criteria, candidate(profile={"country": "RU"})).failed_criterion == (
        "excluded_countries"
    )
    gambling = candidate(profile={"industry": "gambling "})
    assert evaluate(criteria, gambling).failed_criterion == "excluded_industries"


def test_no_criteria_agreed_means_every_mql_passes() -> None:
    assert evaluate(None, candidate(consent_given=False)).passed


def test_both_sides_approve_before_a_version_is_active_and_editing_clears_approvals() -> None:
    draft = Criteria(2, Rules())
    once = draft.approved_by("marketing")
    assert once.status is Status.draft
    edited = once.edited(Rules(min_grade="A"))
    assert edited.approvals == frozenset()
    active = edited.approved_by("sales").approved_by("marketing")
    assert active.status is Status.active
    with pytest.raises(CriteriaError):
        active.edited(Rules())
    with pytest.raises(CriteriaError):
        draft.approved_by("admin")


def test_criteria_refuse_unknown_fields_and_grades() -> None:
    with pytest.raises(CriteriaError, match="required_fields"):
        Rules(required_fields=("shoe_size",))
    with pytest.raises(CriteriaError, match="min_grade"):
        Rules(min_grade="E")


# ---- rules ------------------------------------------------------------------------------------


def test_first_matching_rule_by_position_else_fallback() -> None:
    rules = [
        Rule("dach", "t-dach", 2, countries=frozenset({"DE", "AT", "CH"})),
        Rule("enterprise-uk", "t-ent", 1, countries=frozenset({"GB"}), grades=frozenset({"A"})),
        Rule("uk", "t-uk", 3, countries=frozenset({"gb"})),
    ]
    assert match_rule(rules, LEAD, "t-world").rule == "enterprise-uk"
    b_lead = Lead(score=1, grade="B", country="GB")
    matched = match_rule(rules, b_lead, "t-world")
    assert (matched.rule, matched.team_id, matched.skipped_rules) == (
        "uk",
        "t-uk",
        ("enterprise-uk", "dach"),
    )
    assert match_rule(rules, Lead(score=1, grade="B", country="BR"), "t-world").team_id == (
        "t-world"
    )
    assert match_rule(rules, Lead(score=1, grade="B"), None).team_id is None


# ---- eligibility ------------------------------------------------------------------------------


def test_every_reason_a_rep_is_passed_over() -> None:
    weekdays = parse_hours("Europe/London", "mon-fri 09:00-17:00")
    away = Period(MONDAY_NOON - timedelta(hours=1), MONDAY_NOON + timedelta(days=2))
    cases = {
        Skip.inactive: rep(active=False),
        Skip.out_of_office: rep(out_of_office=(away,)),
        Skip.off_hours: rep(hours=weekdays),
        Skip.territory: rep(territories=frozenset({"FR"})),
        Skip.language: rep(languages=frozenset({"fr"})),
        Skip.segment: rep(company_sizes=frozenset({"1000+"})),
        Skip.full: rep(open_load=5),
        Skip.daily_cap: rep(daily_cap=2, assigned_today=2, assigned_day="2026-11-30"),
    }
    assert skips(rep(), LEAD, MONDAY_NOON) == ()
    saturday = MONDAY_NOON + timedelta(days=5)
    for reason, candidate_rep in cases.items():
        at = saturday if reason is Skip.off_hours else MONDAY_NOON
        assert skips(candidate_rep, LEAD, at) == (reason,), reason
    yesterday = rep(daily_cap=2, assigned_today=2, assigned_day="2026-11-29")
    assert skips(yesterday, LEAD, MONDAY_NOON) == ()


def test_working_hours_follow_each_reps_zone() -> None:
    tokyo = parse_hours("Asia/Tokyo", "mon-fri 09:00-18:00")
    new_york = parse_hours("America/New_York", "mon-fri 09:00-17:00")
    at = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Mon 10:00 Tokyo, Sun 20:00 New York
    assert tokyo.is_working(at) and not new_york.is_working(at)
    at = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Tue 00:00 Tokyo, Mon 10:00 New York
    assert new_york.is_working(at) and not tokyo.is_working(at)


def test_working_hours_keep_local_time_across_a_dst_change() -> None:
    berlin = parse_hours("Europe/Berlin", "mon-fri 09:00-17:00")
    # 08:30 UTC is 09:30 in Berlin in winter (CET) but 10:30 in summer (CEST).
    before = datetime(2026, 3, 27, 7, 30, tzinfo=UTC)  # Fri, CET: 08:30 local
    after = datetime(2026, 3, 30, 7, 30, tzinfo=UTC)  # Mon, CEST: 09:30 local
    assert not berlin.is_working(before)
    assert berlin.is_working(after)
    assert berlin.is_working(datetime(2026, 3, 30, 14, 59, tzinfo=UTC))  # 16:59 local
    assert not berlin.is_working(datetime(2026, 3, 30, 15, 0, tzinfo=UTC))  # 17:00 local


def test_follow_up_deadline_counts_only_working_time() -> None:
    london = parse_hours("Europe/London", "mon-fri 09:00-17:00")
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # One hour left on Friday, the second on Monday morning.
    assert follow_up_due(london, friday_4pm, 120) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    assert follow_up_due(london, saturday, 30) == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def test_follow_up_deadline_across_the_autumn_dst_change() -> None:
    # New York falls back on Sun 1 Nov 2026; a Friday 16:00 EDT lead with 2 h SLA is due Mon
    # 10:00 EST, which is 15:00 UTC (it would be 14:00 UTC without the change).
    new_york = parse_hours("America/New_York", "mon-fri 09:00-17:00")
    friday_4pm = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)
    assert follow_up_due(new_york, friday_4pm, 120) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_overnight_shifts_and_hours_text_round_trip() -> None:
    nights = parse_hours("UTC", "fri 22:00-06:00")
    assert nights.is_working(datetime(2026, 11, 28, 5, 59, tzinfo=UTC))  # Sat 05:59
    assert not nights.is_working(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))
    assert parse_hours("UTC", format_hours(nights)) == nights


@pytest.mark.parametrize(
    ("zone", "text", "message"),
    [
        ("Mars/Olympus", "always", "time zone"),
        ("UTC", "mon 9-17", "is not like"),
        ("UTC", "mon 09:00-25:00", "time of day"),
        ("UTC", "funday 09:00-17:00", "is not like"),
        ("UTC", "mon-fri 09:00-09:00", "length"),
    ],
)
def test_unreadable_hours_say_why(zone: str, text: str, message: str) -> None:
    with pytest.raises(HoursError, match=message):
        parse_hours(zone, text)


# ---- strategies and stickiness ----------------------------------------------------------------


def test_least_loaded_prefers_most_free_relative_to_capacity() -> None:
    reps = [rep("a", capacity=10, open_load=5), rep("b", capacity=4, open_load=1), rep("c")]
    team = Team("t", "T", Strategy.least_loaded)
    placed = place(LEAD, match_rule([], LEAD, "t"), team, reps, MONDAY_NOON)
    assert [c.rep.id for c in placed.ranked] == ["c", "b", "a"]
    assert {c.strategy for c in placed.ranked} == {"least_loaded"}


def test_round_robin_turn_and_a_returning_rep_does_not_get_a_burst() -> None:
    reps = [rep("a", rr_pass=3.0), rep("b", rr_pass=3.5, weight=2), rep("c", rr_pass=0.0)]
    # c fell behind while away: it takes its turn at the clock, not three turns in a row.
    clock = team_clock(reps)
    assert clock == 3.0
    assert served(reps[2], clock) == 4.0


def test_sticky_rep_first_when_eligible_and_explained_when_not() -> None:
    team = Team("t", "T", Strategy.least_loaded)
    owner = rep("owner", team_id="other")
    reps = [rep("a"), rep("b", open_load=5)]
    placed = place(LEAD, match_rule([], LEAD, "t"), team, reps, MONDAY_NOON, sticky_rep=owner)
    assert (placed.ranked[0].rep.id, placed.ranked[0].strategy) == ("owner", STICKY)
    full_owner = rep("owner", open_load=5)
    placed = place(LEAD, match_rule([], LEAD, "t"), team, reps, MONDAY_NOON, full_owner)
    assert [c.rep.id for c in placed.ranked] == ["a"]
    explanation = explain(evaluate(None, candidate()), placed, placed.ranked[0])
    assert explanation["sticky_rep"]["skipped"] == (Skip.full,)
    assert explanation["candidates"][1] == {
        "rep_id": "b",
        "eligible": False,
        "skipped": (Skip.full,),
    }
    assert (explanation["rule"], explanation["strategy"]) == ("fallback", "least_loaded")


def test_team_capacity_counts_reps_on_duty() -> None:
    reps = [
        rep("a", capacity=4, open_load=1),
        rep("b", capacity=3, daily_cap=1, assigned_today=1, assigned_day="2026-11-30"),
        rep("c", active=False),
    ]
    snapshot = capacity(reps, MONDAY_NOON)
    assert (snapshot.reps_available, snapshot.total_capacity, snapshot.open_load) == (2, 7, 1)
    assert snapshot.free_slots == 3


# ---- properties -------------------------------------------------------------------------------

HOURS = st.sampled_from(
    [
        ALWAYS,
        parse_hours("America/Los_Angeles", "mon-fri 08:00-16:00"),
        parse_hours("Asia/Kolkata", "sun-thu 10:00-19:00"),
        parse_hours("Europe/Berlin", "mon-sat 22:00-06:00"),
    ]
)
COUNTRIES = st.sampled_from(["GB", "DE", "US", None])


@st.composite
def reps_strategy(draw: st.DrawFn) -> list[Rep]:
    count = draw(st.integers(1, 8))
    result = []
    for i in range(count):
        cap = draw(st.integers(1, 5))
        result.append(
            rep(
                f"r{i}",
                capacity=cap,
                open_load=draw(st.integers(0, cap + 1)),
                hours=draw(HOURS),
                active=draw(st.booleans()),
                weight=draw(st.integers(1, 5)),
                rr_pass=draw(st.floats(0, 10)),
                territories=frozenset(draw(st.lists(st.sampled_from(["GB", "DE", "US"])))),
                daily_cap=draw(st.none() | st.integers(0, 3)),
            )
        )
    return result


def _eligible(r: Rep, lead: Lead, at: datetime) -> bool:
    """Restated independently of `skips`, for the property below."""
    in_territory = not r.territories or (lead.country or "").casefold() in r.territories
    under_cap = r.daily_cap is None or r.assigned_on(at) < r.daily_cap
    return (
        r.active
        and r.hours.is_working(at)
        and r.open_load < r.capacity
        and in_territory
        and under_cap
    )


@settings(max_examples=200, deadline=None)
@given(
    reps=reps_strategy(),
    strategy=st.sampled_from(list(Strategy)),
    country=COUNTRIES,
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    burst=st.integers(1, 30),
)
def test_no_assignment_exceeds_capacity_or_goes_to_an_ineligible_rep(
    reps: list[Rep], strategy: Strategy, country: str | None, at: datetime, burst: int
) -> None:
    lead = Lead(score=50, grade="B", country=country)
    team = Team("t", "T", strategy)
    start = {r.id: r.open_load for r in reps}
    for _ in range(burst):
        placed = place(lead, match_rule([], lead, "t"), team, reps, at)
        if not placed.ranked:
            break
        chosen = placed.ranked[0].rep
        assert _eligible(chosen, lead, at)
        day = chosen.hours.local_date(at).isoformat()
        updated = Rep(
            **(
                chosen.__dict__
                | dict(
                    open_load=chosen.open_load + 1,
                    assigned_today=chosen.assigned_on(at) + 1,
                    assigned_day=day,
                    rr_pass=served(chosen, team_clock(reps)),
                )
            )
        )
        reps = [updated if r.id == chosen.id else r for r in reps]
    for r in reps:
        assert r.open_load <= max(r.capacity, start[r.id])


@settings(max_examples=50, deadline=None)
@given(weights=st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_weighted_round_robin_converges_to_the_weights(weights: list[int]) -> None:
    reps = [rep(f"r{i}", weight=w, capacity=10**6) for i, w in enumerate(weights)]
    team = Team("t", "T", Strategy.weighted_round_robin)
    counts: Counter[str] = Counter()
    rounds = 60 * sum(weights)
    for _ in range(rounds):
        chosen = place(LEAD, match_rule([], LEAD, "t"), team, reps, MONDAY_NOON).ranked[0].rep
        counts[chosen.id] += 1
        new_pass = served(chosen, team_clock(reps))
        reps = [Rep(**(r.__dict__ | {"rr_pass": new_pass})) if r is chosen else r for r in reps]
    for r in reps:
        # Stride scheduling is within one turn of the exact share at every round boundary.
        assert abs(counts[r.id] - rounds * r.weight / sum(weights)) <= 1
