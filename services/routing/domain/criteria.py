"""The SQL criteria: what an MQL must meet before sales takes it, agreed by both sides.

A version is drafted, approved by a marketing key and a sales key (in either order), and only then
becomes active; editing a draft clears its approvals, so nobody's approval covers text they have
not seen. An active version is never edited: a change is a new draft.
"""

from __future__ import annotations

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
