"""The sales organisation as routing sees it: teams, reps, and the lead to route (the ordered
rules that name a team are in `rules.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from services.routing.domain.hours import Period, WorkingHours


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
        fold_sets(self, "territories", "languages", "company_sizes", "industries")

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


def fold_sets(item: object, *names: str) -> None:
    """Fold the named set fields of a frozen dataclass for case-insensitive membership."""
    for name in names:
        object.__setattr__(item, name, _folded(frozenset(getattr(item, name))))


@lru_cache(maxsize=8192)
def _folded(values: frozenset[str]) -> frozenset[str]:
    """Reps share territories and languages; each distinct set is folded once."""
    return frozenset(v.casefold() for v in values)
