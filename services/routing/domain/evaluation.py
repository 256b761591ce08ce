"""An MQL judged against the SQL criteria in force: the first criterion it fails, in a fixed
order, or a pass. With no criteria agreed yet, every MQL is an SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.routing.domain.criteria import GRADES, Criteria, Rules


@dataclass(frozen=True)
class Verdict:
    passed: bool
    version: int | None
    failed_criterion: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Candidate:
    """What the criteria look at: the MQL's score and grade and the lead's profile."""

    score: int
    grade: str
    consent_given: bool
    profile: dict[str, str | None]


def evaluate(criteria: Criteria | None, lead: Candidate) -> Verdict:
    """The first criterion the lead fails, in a fixed order, or a pass."""
    if criteria is None:  # nothing agreed yet: every MQL is an SQL
        return Verdict(True, None)
    failure = _first_failure(criteria.rules, lead)
    if failure is None:
        return Verdict(True, criteria.version)
    return Verdict(False, criteria.version, *failure)


def _first_failure(rules: Rules, lead: Candidate) -> tuple[str, str] | None:
    if rules.consent_required and not lead.consent_given:
        return "consent_required", "the lead has not given consent to be contacted"
    for name in rules.required_fields:
        if not lead.profile.get(name):
            return f"required_fields.{name}", f"{name} is missing"
    if rules.min_grade is not None and _worse(lead.grade, rules.min_grade):
        return "min_grade", f"grade {lead.grade} is below the minimum {rules.min_grade}"
    if rules.min_score is not None and lead.score < rules.min_score:
        return "min_score", f"score {lead.score} is below the minimum {rules.min_score}"
    exclusions = (
        ("excluded_countries", "country", rules.excluded_countries),
        ("excluded_industries", "industry", rules.excluded_industries),
        ("excluded_company_sizes", "company_size", rules.excluded_company_sizes),
    )
    for criterion, name, excluded in exclusions:
        value = lead.profile.get(name)
        if value is not None and _folded(value) in _fold(excluded):
            return criterion, f"{name} {value} is excluded"
    return None


def _worse(grade: str, minimum: str) -> bool:
    return grade not in GRADES or GRADES.index(grade) > GRADES.index(minimum)


def _folded(value: str) -> str:
    return value.strip().casefold()


def _fold(values: Iterable[str]) -> frozenset[str]:
    return frozenset(_folded(v) for v in values)
