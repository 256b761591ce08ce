"""The sales organisation as routing sees it: teams, reps, ordered rules, and the lead to route."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from services.routing.domain.hours import Period, WorkingHours

FALLBACK_RULE = "fallback"


class Strategy(StrEnum):
    least_loaded = "least_loaded"
    weighted_round_robin = "weighted_round_robin"


STICKY = "account_stickiness"  # the strategy named in a decision that followed the account


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    strategy: Strategy = Strategy.least_loaded
    sla_minutes: int = 60  # first follow-up due within this much of the rep's working time
    sla_seconds: int | None = None  # overrides sla_minutes when set
    max_attempts: int = 3  # assignments before a breached lead escalates
    breach_limit: int | None = None  # breaches in the window that lower a rep's share
    breach_window_days: int = 7
    breach_share: float = 0.5  # the lowered share (a factor on the rep's weight)
    escalation_contact: str | None = None
    fallback: bool = False


@dataclass(frozen=True)
class Rep:
    """A rep's settings and, at the moment of a decision, their load."""

    id: str
    email: str
    name: str
    team_id: str
    capacity: int  # most open leads at once
    hours: WorkingHours
    weight: int = 1
    daily_cap: int | None = None  # most new leads per local day
    territories: frozenset[str] = frozenset()  # countries; empty: any
    languages: frozenset[str] = frozenset()  # empty: any
    company_sizes: frozenset[str] = frozenset()  # segment bands; empty: any
    industries: frozenset[str] = frozenset()  # segment industries; empty: any
    out_of_office: tuple[Period, ...] = ()
    active: bool = True
    open_load: int = 0
    assigned_today: int = 0  # new leads on `assigned_day`, the rep's local date
    assigned_day: str | None = None  # ISO date
    rr_pass: float = 0.0  # weighted round robin position (see strategies.py)
    share: float = 1.0  # below 1 while the rep's SLA record is poor (see sla.py)

    @property
    def effective_weight(self) -> float:
        return self.weight * self.share

    def __post_init__(self) -> None:
        _fold_sets(self, "territories", "languages", "company_sizes", "industries")

    def free(self) -> int:
        return max(0, self.capacity - self.open_load)

    def assigned_on(self, at: datetime) -> int:
        today = self.hours.local_date(at).isoformat()
        return self.assigned_today if self.assigned_day == today else 0


@dataclass(frozen=True)
class Lead:
    """An SQL to place: its score for the queue, its profile for rules and eligibility."""

    score: int
    grade: str
    country: str | None = None
    language: str | None = None
    company_size: str | None = None
    industry: str | None = None
    product_interest: str | None = None
    company_domain: str | None = None


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
        _fold_sets(
            self, "countries", "languages", "company_sizes", "industries", "product_interests"
        )
        _fold_sets(self, "grades")

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


def within(value: str | None, allowed: frozenset[str]) -> bool:
    """Case-insensitive membership (sets are folded when built); a missing value is in none."""
    return value is not None and value.casefold() in allowed


def _fold_sets(item: object, *names: str) -> None:
    for name in names:
        object.__setattr__(item, name, _folded(frozenset(getattr(item, name))))


@lru_cache(maxsize=8192)
def _folded(values: frozenset[str]) -> frozenset[str]:
    """Reps share territories and languages; each distinct set is folded once."""
    return frozenset(v.casefold() for v in values)


def match_rule(rules: Sequence[Rule], lead: Lead, fallback_team: str | None) -> Match:
    """The first matching rule by position, else the fallback team (None if there is none)."""
    skipped: list[str] = []
    for rule in sorted(rules, key=lambda r: (r.position, r.name)):
        if rule.matches(lead):
            return Match(rule.name, rule.team_id, tuple(skipped))
        skipped.append(rule.name)
    return Match(FALLBACK_RULE, fallback_team, tuple(skipped))
