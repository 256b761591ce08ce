"""The SQL criteria: what an MQL must meet before sales takes it, agreed by both sides.

A version is drafted, approved by a marketing key and a sales key (in either order), and only then
becomes active; editing a draft clears its approvals, so nobody's approval covers text they have
not seen. An active version is never edited: a change is a new draft.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

GRADES = ("A", "B", "C", "D")  # best first
PROFILE_FIELDS = (
    "country",
    "language",
    "company_size",
    "industry",
    "product_interest",
    "company",
    "job_title",
    "company_domain",
)
APPROVING_ROLES = ("marketing", "sales")


class CriteriaError(ValueError):
    """A criteria definition or an approval step that is not allowed; says which and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class Status(StrEnum):
    draft = "draft"
    active = "active"
    retired = "retired"


@dataclass(frozen=True)
class Rules:
    """The checks themselves. Empty sets and None mean "no such check"."""

    required_fields: tuple[str, ...] = ()
    min_grade: str | None = None
    min_score: int | None = None
    consent_required: bool = True
    excluded_countries: frozenset[str] = frozenset()
    excluded_industries: frozenset[str] = frozenset()
    excluded_company_sizes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in self.required_fields:
            if name not in PROFILE_FIELDS:
                raise CriteriaError("required_fields", f"{name!r} is not one of {PROFILE_FIELDS}")
        if self.min_grade is not None and self.min_grade not in GRADES:
            raise CriteriaError("min_grade", f"must be one of {GRADES}")


@dataclass(frozen=True)
class Criteria:
    version: int
    rules: Rules
    status: Status = Status.draft
    approvals: frozenset[str] = field(default_factory=frozenset)  # roles that approved

    def edited(self, rules: Rules) -> Criteria:
        if self.status is not Status.draft:
            raise CriteriaError("version", f"version {self.version} is {self.status}; draft anew")
        return replace(self, rules=rules, approvals=frozenset())

    def approved_by(self, role: str) -> Criteria:
        """Marketing's or sales' approval; the second side's approval activates the version."""
        if role not in APPROVING_ROLES:
            raise CriteriaError("role", "only a marketing or a sales key approves criteria")
        if self.status is not Status.draft:
            raise CriteriaError("version", f"version {self.version} is {self.status}, not a draft")
        approvals = self.approvals | {role}
        status = Status.active if approvals >= set(APPROVING_ROLES) else Status.draft
        return replace(self, approvals=approvals, status=status)


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
