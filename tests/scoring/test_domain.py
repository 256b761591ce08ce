"""Scoring's pure decisions: the model document, rules, caps, decay, grades, the threshold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoff.demo_scoring import DEMO_MODEL
from services.scoring.domain.document import parse_model
from services.scoring.domain.lifecycle import ModelState, activate, approve, edit
from services.scoring.domain.scoring import Activity, Profile, Score, score_lead
from services.scoring.domain.standing import Standing, counts, disqualifies, recycle
from services.scoring.domain.threshold import (
    Held,
    TeamSlots,
    effective_threshold,
    free_slots,
    placement,
    releases,
)
from shared.problems import Conflict, Forbidden, Invalid

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MODEL = parse_model(DEMO_MODEL)
POLICY = MODEL.threshold  # F 30, B 60, U 80
HEAD = Profile(
    job_title="Head of Engineering",
    company_size="51-200",
    industry="Software",
    country="GB",
    email_domain="example.com",
    consent_given=True,
)


def act(kind: str, days_ago: float = 0, **properties: str) -> Activity:
    return Activity(kind, NOW - timedelta(days=days_ago), properties)


def rules(score: Score) -> dict[str, int]:
    return {f.rule: f.points for f in score.fired}


# ---- the document ---------------------------------------------------------------------------


def test_the_demo_model_is_valid_yaml_and_json_alike() -> None:
    assert MODEL.version == "demo-1"
    again = parse_model(MODEL.model_dump_json(), fmt="json")
    assert again == MODEL


def test_every_error_names_its_path() -> None:
    doc = DEMO_MODEL.replace("points: 20,", "points: lots,").replace("A: 40", "A: 5")
    with pytest.raises(Invalid) as refused:
        parse_model(doc)
    fields = {p.field for p in refused.value.problems}
    assert "fit_rules.0.points" in fields  # the union's tag is not in the path
    assert "grades" in fields


def test_an_unknown_rule_kind_and_an_unordered_threshold_are_refused() -> None:
    doc = DEMO_MODEL.replace("kind: industry", "kind: horoscope").replace("floor: 30", "floor: 90")
    with pytest.raises(Invalid) as refused:
        parse_model(doc)
    fields = {p.field for p in refused.value.problems}
    assert fields == {"fit_rules.4", "threshold"}, refused.value.problems


def test_duplicate_rule_ids_and_bad_yaml_are_refused() -> None:
    with pytest.raises(Invalid, match="invalid"):
        parse_model(DEMO_MODEL.replace("id: webinar", "id: content"))
    with pytest.raises(Invalid) as refused:
        parse_model("version: [unclosed")
    assert refused.value.problems[0].field == "document"
    with pytest.raises(Invalid) as refused:
        parse_model("a: &x [1, 2]\nb: [*x, *x]\n")
    assert "aliases" in refused.value.problems[0].reason
    with pytest.raises(Invalid) as refused:
        parse_model("just words")
    assert refused.value.problems[0].field == "document"


# ---- rules, caps, decay, grades -------------------------------------------------------------


def test_fit_rules_fire_on_the_profile() -> None:
    score = score_lead(MODEL, HEAD, [], NOW)
    assert rules(score) == {
        "senior_title": 20,
        "target_size": 15,
        "target_industry": 10,
        "served_country": 5,
    }
    assert (score.fit, score.engagement, score.total, score.grade) == (50, 0, 50, "A")


def test_keywords_match_whole_words_only() -> None:
    assert "senior_title" not in rules(score_lead(MODEL, Profile(job_title="Headhunter"), [], NOW))
    assert "senior_title" in rules(score_lead(MODEL, Profile(job_title="VP, Sales"), [], NOW))


def test_negative_fit_rules_and_grades() -> None:
    spammy = Profile(free_mail=True, disposable_email=True, email_domain="x.competitor.example")
    score = score_lead(MODEL, spammy, [], NOW)
    assert rules(score) == {
        "free_mail": -10,
        "disposable_email": -40,
        "competitor": -100,
        "no_consent": -5,
    }
    assert score.grade == "D"
    assert score_lead(MODEL, Profile(industry="saas", consent_given=True), [], NOW).grade == "C"


def test_engagement_with_a_property_condition_and_a_cap() -> None:
    views = [act("page_view", url="https://x.example/pricing")] * 3
    score = score_lead(MODEL, Profile(consent_given=True), views, NOW)
    assert rules(score) == {"pricing_url": 20, "page_view": 3}  # 3 x 10 capped at 20
    fired = {f.rule: f for f in score.fired}
    assert fired["pricing_url"].raw == 20 and fired["pricing_url"].count == 3


def test_engagement_halves_every_half_life() -> None:
    score = score_lead(MODEL, Profile(consent_given=True), [act("demo_request", 30)], NOW)
    fired = {f.rule: f for f in score.fired}
    assert fired["demo_request"].decayed == 20.0
    assert score.engagement == 20
    later = score_lead(MODEL, Profile(consent_given=True), [act("demo_request", 60)], NOW)
    assert later.engagement == 10


def test_an_activity_from_the_future_counts_as_now() -> None:
    score = score_lead(MODEL, Profile(consent_given=True), [act("demo_request", -2)], NOW)
    assert score.engagement == 40


def test_the_explanation_adds_up_to_the_total() -> None:
    acts = [act("webinar_attended", 3), act("email_click", 1), act("pricing_page_view", 10)]
    score = score_lead(MODEL, HEAD, acts, NOW)
    assert sum(f.points for f in score.fired) == score.total


KINDS = st.sampled_from(
    ["page_view", "pricing_page_view", "demo_request", "webinar_attended", "email_click", "x"]
)
ACTIVITY = st.builds(
    Activity,
    KINDS,
    st.floats(-5, 400).map(lambda d: NOW - timedelta(days=d)),
    st.fixed_dictionaries({}, optional={"url": st.sampled_from(["/pricing", "/blog"])}),
)


@given(st.lists(ACTIVITY, max_size=20), ACTIVITY)
def test_an_extra_activity_never_lowers_the_score(acts: list[Activity], extra: Activity) -> None:
    before = score_lead(MODEL, HEAD, acts, NOW)
    after = score_lead(MODEL, HEAD, [*acts, extra], NOW)
    assert after.total >= before.total
    assert after.engagement >= before.engagement


@given(st.lists(ACTIVITY, max_size=20), st.floats(0, 1000))
def test_time_passing_never_raises_the_score(acts: list[Activity], days: float) -> None:
    now = score_lead(MODEL, HEAD, acts, NOW)
    later = score_lead(MODEL, HEAD, acts, NOW + timedelta(days=days))
    assert later.total <= now.total


# ---- the threshold --------------------------------------------------------------------------


def held(*scores: int) -> list[Held]:
    return [Held(uuid.uuid4(), s, NOW + timedelta(seconds=i)) for i, s in enumerate(scores)]


def test_k_subtracts_queues_and_releases_since_the_capacity_state() -> None:
    teams = [TeamSlots(free_slots=4, queue_length=1), TeamSlots(free_slots=3, queue_length=0)]
    assert free_slots(teams, released_total=2) == 4
    assert free_slots([], released_total=0) is None


def test_releases_count_from_the_oldest_team_state() -> None:
    # 10 released in all; team a's state arrived after 6 of them, team b's after 9
    teams = [TeamSlots(5, 0, mark=6), TeamSlots(5, 0, mark=9)]
    assert free_slots(teams, released_total=10) == 6  # 10 - 4: b's new state cannot free a's


def test_base_applies_while_no_capacity_is_known() -> None:
    t = effective_threshold(POLICY, None, held(40))
    assert (t.effective, t.free_slots, t.held) == (60, None, 1)
    assert "base threshold 60" in t.reason
    assert placement(POLICY, 60, None) == "mql"
    assert placement(POLICY, 59, None) == "held"
    assert releases(held(45), None) == []


def test_ceiling_when_sales_is_full() -> None:
    t = effective_threshold(POLICY, 0, held(70, 60))
    assert t.effective == 80 and "no free slots" in t.reason
    assert effective_threshold(POLICY, -3, []).effective == 80
    assert placement(POLICY, 80, -3) == "mql"  # at or above U always goes
    assert placement(POLICY, 79, -3) == "held"


def test_floor_when_fewer_held_than_slots() -> None:
    t = effective_threshold(POLICY, 5, held(70, 60))
    assert t.effective == 30
    assert t.reason == (
        "sales has 5 free slots and 2 held leads; every lead scoring 30 or more qualifies"
    )
    assert placement(POLICY, 29, 5) == "nurture"


def test_the_kth_best_held_lead_sets_the_bar() -> None:
    t = effective_threshold(POLICY, 3, held(55, 62, 79, 70, 31))
    assert t.effective == 62
    assert t.reason == "sales has 3 free slots; the 3rd best held lead scores 62"


def test_releases_go_best_first_then_oldest_first() -> None:
    leads = held(50, 70, 50, 60)
    released = releases(leads, 3)
    assert [h.score for h in released] == [70, 60, 50]
    assert released[2] is leads[0]  # the older of the two 50s


@given(
    st.integers(-100, 100),
    st.integers(0, 100),
    st.integers(1, 100),
    st.one_of(st.none(), st.integers(-3, 0), st.integers(1, 8)),
    st.lists(st.integers(-300, 300), max_size=12),
)
def test_threshold_is_always_within_floor_and_ceiling(
    floor: int, base_gap: int, top_gap: int, k: int | None, scores: list[int]
) -> None:
    policy = POLICY.model_copy(
        update={"floor": floor, "base": floor + base_gap, "ceiling": floor + base_gap + top_gap}
    )
    t = effective_threshold(policy, k, held(*scores))
    assert policy.floor <= t.effective <= policy.ceiling


@given(st.one_of(st.none(), st.integers(-20, 40)), st.lists(st.integers(30, 79), max_size=30))
def test_releases_never_exceed_k_and_go_best_first(k: int | None, scores: list[int]) -> None:
    leads = held(*scores)
    released = releases(leads, k)
    assert len(released) <= max(k or 0, 0)
    assert [h.score for h in released] == sorted((h.score for h in released), reverse=True)
    if released:
        assert min(h.score for h in released) >= max(
            (h.score for h in leads if h not in released), default=-(10**9)
        )


@given(st.integers(-200, 200), st.one_of(st.none(), st.integers(-5, 5)))
def test_never_an_mql_below_the_floor_never_held_at_the_ceiling(score: int, k: int | None) -> None:
    where = placement(POLICY, score, k)
    if score < POLICY.floor:
        assert where == "nurture"
    if score >= POLICY.ceiling:
        assert where == "mql"


# ---- standing and recycle -------------------------------------------------------------------


def test_recycle_resets_engagement_and_cools_down() -> None:
    standing = recycle(Standing(state="held"), MODEL.recycle, NOW)
    assert standing.state == "recycled" and standing.recycles == 1
    assert not standing.can_qualify(NOW + timedelta(days=29))
    assert standing.can_qualify(NOW + timedelta(days=30))
    assert not counts(standing, NOW + timedelta(days=1))  # during the cooldown: not fresh
    assert counts(standing, NOW + timedelta(days=31))


def test_past_the_maximum_a_lead_stays_in_nurture() -> None:
    standing = Standing()
    for _ in range(3):
        standing = recycle(standing, MODEL.recycle, NOW)
    assert standing.state == "exhausted"
    assert not standing.can_qualify(NOW + timedelta(days=1000))


def test_disqualifying_verdicts_are_configurable() -> None:
    assert disqualifies(MODEL.recycle, "rejected", "spam")
    assert not disqualifies(MODEL.recycle, "rejected", "no_budget")
    assert not disqualifies(MODEL.recycle, "recycled", "spam")


# ---- a model's lifecycle --------------------------------------------------------------------


def test_both_sides_must_approve_before_activation() -> None:
    model = approve(ModelState("v1"), "marketing", "Mia", NOW)
    assert model.status == "draft"
    with pytest.raises(Conflict) as refused:
        activate(model)
    assert "sales approval" in refused.value.detail
    assert [p.field for p in refused.value.problems] == ["approvals.sales"]
    model = approve(model, "sales", "Sam", NOW)
    assert model.status == "approved"
    assert activate(model).status == "active"


def test_editing_clears_approvals_and_admins_do_not_approve_for_a_side() -> None:
    model = approve(approve(ModelState("v1"), "marketing", "Mia", NOW), "sales", "Sam", NOW)
    edited = edit(model)
    assert (edited.status, edited.approvals) == ("draft", {})
    with pytest.raises(Forbidden):
        approve(edited, "admin", "root", NOW)
    with pytest.raises(Conflict):
        edit(activate(model))
