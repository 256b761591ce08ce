"""Routing's qualification criteria: rules, their evaluation, and the two-sided approval."""

from __future__ import annotations

import pytest

from services.routing.domain.criteria import Criteria, CriteriaError, Rules, Status
from services.routing.domain.evaluation import evaluate
from tests.routing.domain_helpers import candidate


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
