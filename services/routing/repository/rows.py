"""Rows turned into domain objects, and back into documents (no SQL here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row

from services.routing.domain.criteria import Criteria, Rules, Status
from services.routing.domain.hours import Period, WorkingHours
from services.routing.domain.hours_text import parse_hours
from services.routing.domain.org import Rep, Strategy, Team
from services.routing.domain.rules import Rule


@lru_cache(maxsize=4096)
def _hours(timezone: str, text_: str) -> WorkingHours:
    return parse_hours(timezone, text_)


def to_team(row: Row[Any]) -> Team:
    return Team(
        id=row.id,
        name=row.name,
        strategy=Strategy(row.strategy),
        sla_minutes=row.sla_minutes,
        sla_seconds=row.sla_seconds,
        max_attempts=row.max_attempts,
        breach_limit=row.breach_limit,
        breach_window_days=row.breach_window_days,
        breach_share=row.breach_share,
        escalation_contact=row.escalation_contact,
        fallback=row.fallback,
    )


def to_rep(row: Row[Any]) -> Rep:
    return Rep(
        id=row.id,
        email=row.email,
        name=row.name,
        team_id=row.team_id,
        capacity=row.capacity,
        hours=_hours(row.timezone, row.working_hours),
        weight=row.weight,
        daily_cap=row.daily_cap,
        territories=frozenset(row.territories),
        languages=frozenset(row.languages),
        company_sizes=frozenset(row.company_sizes),
        industries=frozenset(row.industries),
        out_of_office=tuple(
            Period(datetime.fromisoformat(a), datetime.fromisoformat(b))
            for a, b in row.out_of_office
        ),
        active=row.active,
        open_load=row.open_load,
        assigned_today=row.assigned_today,
        assigned_day=row.assigned_day.isoformat() if row.assigned_day else None,
        rr_pass=row.rr_pass,
        share=row.share,
    )


SETTINGS_CACHE: dict[
    str, tuple[datetime, Rep]
] = {}  # rep id -> (updated_at, settings), see team_reps


def with_load(settings: Rep, row: Row[Any]) -> Rep:
    """The cached settings with this moment's load. Built without `dataclasses.replace`, which
    re-runs validation the cached copy already passed (a tenth of a decision for 1,000 reps)."""
    rep: Rep = object.__new__(Rep)
    rep.__dict__.update(
        settings.__dict__,
        open_load=row.open_load,
        assigned_day=row.assigned_day.isoformat() if row.assigned_day else None,
        assigned_today=row.assigned_today,
        rr_pass=row.rr_pass,
        share=row.share,
    )
    return rep


def to_rule(row: Row[Any]) -> Rule:
    return rule_of(row._mapping)


def rule_of(fields: Mapping[Any, Any]) -> Rule:
    """A rule from its row's columns by name (a row's mapping, or the row as a JSON object)."""
    conditions = fields["conditions"]
    return Rule(
        name=fields["name"],
        team_id=fields["team_id"],
        position=fields["position"],
        **{key: frozenset(conditions.get(key, ())) for key in RULE_CONDITIONS},
    )


RULE_CONDITIONS = (
    "countries",
    "languages",
    "company_sizes",
    "industries",
    "product_interests",
    "grades",
)


def to_criteria(row: Row[Any]) -> Criteria:
    r = row.rules
    rules = Rules(
        required_fields=tuple(r.get("required_fields", ())),
        min_grade=r.get("min_grade"),
        min_score=r.get("min_score"),
        consent_required=r.get("consent_required", True),
        excluded_countries=frozenset(r.get("excluded_countries", ())),
        excluded_industries=frozenset(r.get("excluded_industries", ())),
        excluded_company_sizes=frozenset(r.get("excluded_company_sizes", ())),
    )
    return Criteria(row.version, rules, Status(row.status), frozenset(row.approvals))


def rules_document(rules: Rules) -> dict[str, Any]:
    return {
        "required_fields": list(rules.required_fields),
        "min_grade": rules.min_grade,
        "min_score": rules.min_score,
        "consent_required": rules.consent_required,
        "excluded_countries": sorted(rules.excluded_countries),
        "excluded_industries": sorted(rules.excluded_industries),
        "excluded_company_sizes": sorted(rules.excluded_company_sizes),
    }


@dataclass(frozen=True)
class QueueStats:
    length: int
    oldest: datetime | None

    def oldest_age_s(self, now: datetime) -> float | None:
        return None if self.oldest is None else max(0.0, (now - self.oldest).total_seconds())
