"""The pure scoring function: profile + activities + model + now -> an explained score.

Fit is the sum of the fit rules that fire. Engagement: each matching activity is worth the rule's
points halved every `half_life_days` of its age (an activity dated in the future counts as now);
a rule's decayed sum is capped at its `cap` (shown to two decimals) and rounded to whole points;
the engagement score is the sum of those points, so an explanation always adds up to its total.
Total = fit + engagement. Grade comes from fit alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from services.scoring.domain.document import (
    CampaignRule,
    CompanySizeRule,
    CompetitorDomainRule,
    ConsentRule,
    CountryRule,
    DisposableEmailRule,
    EngagementRule,
    FitRule,
    FreeMailRule,
    GradeBands,
    IndustryRule,
    JobTitleRule,
    PropertyCondition,
    ScoringModel,
)

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Profile:
    """What scoring keeps of a person, copied from lead.captured.v1 (erased on lead.erased.v1)."""

    job_title: str | None = None
    company: str | None = None
    company_size: str | None = None
    industry: str | None = None
    country: str | None = None
    language: str | None = None
    email_domain: str | None = None
    free_mail: bool = False
    disposable_email: bool = False
    consent_given: bool = False
    product_interest: str | None = None
    source: str | None = None  # first touch: attribution, not the person
    utm_campaign: str | None = None


@dataclass(frozen=True)
class Activity:
    activity_type: str
    happened_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fired:
    rule: str
    points: int
    kind: str  # "fit" or "engagement"
    count: int = 1  # activities that matched (engagement)
    raw: float | None = None  # engagement before decay and cap
    decayed: float | None = None  # engagement after decay and cap: what `points` rounds


@dataclass(frozen=True)
class Score:
    total: int
    fit: int
    engagement: int
    grade: str
    model_version: str
    fired: tuple[Fired, ...]


def score_lead(
    model: ScoringModel, profile: Profile, activities: Iterable[Activity], now: datetime
) -> Score:
    fired = [Fired(rule.id, rule.points, "fit") for rule in model.fit_rules if fits(rule, profile)]
    fit = sum(f.points for f in fired)
    engaged = engagement(model.engagement_rules, list(activities), now)
    fired.extend(engaged)
    engagement_score = sum(f.points for f in engaged)
    return Score(
        total=fit + engagement_score,
        fit=fit,
        engagement=engagement_score,
        grade=grade(model.grades, fit),
        model_version=model.version,
        fired=tuple(fired),
    )


def grade(bands: GradeBands, fit: int) -> str:
    if fit >= bands.A:
        return "A"
    if fit >= bands.B:
        return "B"
    return "C" if fit >= bands.C else "D"


def fits(rule: FitRule, p: Profile) -> bool:
    match rule:
        case JobTitleRule():
            return bool(p.job_title) and bool(
                _keywords(tuple(rule.keywords)).search(p.job_title or "")
            )
        case CompanySizeRule():
            return p.company_size in rule.bands
        case IndustryRule():
            return _lower(p.industry) in {i.lower() for i in rule.industries}
        case CountryRule():
            return p.country in rule.countries
        case CampaignRule():
            return _lower(p.utm_campaign) in {c.lower() for c in rule.campaigns}
        case FreeMailRule():
            return p.free_mail
        case DisposableEmailRule():
            return p.disposable_email
        case CompetitorDomainRule():
            return _is_under(_lower(p.email_domain), rule.domains)
        case ConsentRule():
            return p.consent_given is rule.given
    return False


def engagement(
    rules: Sequence[EngagementRule], activities: Sequence[Activity], now: datetime
) -> list[Fired]:
    fired = []
    for rule in rules:
        matched = [a for a in activities if matches(rule, a)]
        if not matched:
            continue
        decayed = sum(rule.points * decay(a.happened_at, now, rule.half_life_days) for a in matched)
        capped = round(min(float(rule.cap), decayed), 2)
        fired.append(
            Fired(
                rule.id,
                round(capped),
                "engagement",
                count=len(matched),
                raw=float(min(rule.cap, rule.points * len(matched))),
                decayed=capped,
            )
        )
    return fired


def decay(happened_at: datetime, now: datetime, half_life_days: float) -> float:
    age_days = max(0.0, (now - happened_at).total_seconds() / SECONDS_PER_DAY)
    return float(0.5 ** (age_days / half_life_days))


def matches(rule: EngagementRule, activity: Activity) -> bool:
    if activity.activity_type != rule.activity:
        return False
    return rule.when is None or holds(rule.when, activity.properties)


def holds(condition: PropertyCondition, properties: Mapping[str, Any]) -> bool:
    value = properties.get(condition.property)
    if value is None:
        return False
    text, wanted = str(value).lower(), condition.value.lower()
    if condition.match == "equals":
        return text == wanted
    if condition.match == "prefix":
        return text.startswith(wanted)
    return wanted in text


@lru_cache(maxsize=1024)
def _keywords(keywords: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(re.escape(k.lower()) for k in keywords)
    return re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _is_under(domain: str | None, domains: Iterable[str]) -> bool:
    if not domain:
        return False
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)
