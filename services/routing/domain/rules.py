"""Routing rules: ordered, the first whose every non-empty condition holds names the team; no
match goes to the fallback team."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.routing.domain.org import Lead, fold_sets

FALLBACK_RULE = "fallback"


@dataclass(frozen=True)
class Rule:
    """Ordered: the first rule whose every non-empty condition holds names the team."""

    name: str
    team_id: str
    position: int = 0
    countries: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    company_sizes: frozenset[str] = frozenset()
    industries: frozenset[str] = frozenset()
    product_interests: frozenset[str] = frozenset()
    grades: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        fold_sets(
            self, "countries", "languages", "company_sizes", "industries", "product_interests"
        )
        fold_sets(self, "grades")

    def matches(self, lead: Lead) -> bool:
        checks = (
            (self.countries, lead.country),
            (self.languages, lead.language),
            (self.company_sizes, lead.company_size),
            (self.industries, lead.industry),
            (self.product_interests, lead.product_interest),
            (self.grades, lead.grade),
        )
        return all(not allowed or within(value, allowed) for allowed, value in checks)


@dataclass(frozen=True)
class Match:
    rule: str
    team_id: str | None
    skipped_rules: tuple[str, ...] = field(default=())


def match_rule(rules: Sequence[Rule], lead: Lead, fallback_team: str | None) -> Match:
    """The first matching rule by position, else the fallback team (None if there is none)."""
    skipped: list[str] = []
    for rule in sorted(rules, key=lambda r: (r.position, r.name)):
        if rule.matches(lead):
            return Match(rule.name, rule.team_id, tuple(skipped))
        skipped.append(rule.name)
    return Match(FALLBACK_RULE, fallback_team, tuple(skipped))


def within(value: str | None, allowed: frozenset[str]) -> bool:
    """Case-insensitive membership (sets are folded when built); a missing value is in none."""
    return value is not None and value.casefold() in allowed
