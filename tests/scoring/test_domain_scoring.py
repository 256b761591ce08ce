"""Scoring a lead: fit and engagement rules, caps, decay, grades, and their properties."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.scoring.domain.scoring import Activity, Profile, Score, score_lead
from tests.scoring.domain_helpers import MODEL, NOW

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
