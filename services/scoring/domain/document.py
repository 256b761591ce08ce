"""The scoring model document: what marketing and sales approve, validated with every error's path.

A model is YAML or JSON. Fit rules say who the lead is worth (each `kind` a condition on a profile
field), engagement rules what they did (an activity type, optionally a property condition, points
per activity with a cap and a half-life), grade bands turn fit into A–D, the threshold policy gives
the floor F, base B and ceiling U of the MQL bar, and the recycle policy says what happens when a
lead comes back from sales.

Engagement points are positive by rule: an extra activity never lowers a score (negative signals
such as a disposable address or missing consent are fit rules).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.problems import Invalid, Problem

RULE_ID = r"^[a-z][a-z0-9_]{0,62}$"
VERSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
DISQUALIFYING_DEFAULT = ("spam", "student", "competitor")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleBase(Strict):
    id: str = Field(pattern=RULE_ID, description="Names the rule in every explanation.")
    points: int = Field(ge=-1000, le=1000)
    description: str | None = Field(None, max_length=300)


class JobTitleRule(RuleBase):
    """Fires when the job title contains any keyword as a word (case-insensitive)."""

    kind: Literal["job_title"]
    keywords: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(min_length=1)


class CompanySizeRule(RuleBase):
    kind: Literal["company_size"]
    bands: list[str] = Field(min_length=1, examples=[["51-200", "201-500"]])


class IndustryRule(RuleBase):
    kind: Literal["industry"]
    industries: list[str] = Field(min_length=1)


class CountryRule(RuleBase):
    kind: Literal["country"]
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(min_length=1)


class CampaignRule(RuleBase):
    """Fires when the lead's first-touch UTM campaign is one of `campaigns` (any case)."""

    kind: Literal["campaign"]
    campaigns: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)


class FreeMailRule(RuleBase):
    kind: Literal["free_mail"]


class DisposableEmailRule(RuleBase):
    kind: Literal["disposable_email"]


class CompetitorDomainRule(RuleBase):
    kind: Literal["competitor_domain"]
    domains: list[Annotated[str, Field(min_length=3, max_length=253)]] = Field(min_length=1)


class ConsentRule(RuleBase):
    """Fires when consent was given (`given: true`) or was not (`given: false`)."""

    kind: Literal["consent"]
    given: bool


FitRule = Annotated[
    JobTitleRule
    | CompanySizeRule
    | IndustryRule
    | CountryRule
    | CampaignRule
    | FreeMailRule
    | DisposableEmailRule
    | CompetitorDomainRule
    | ConsentRule,
    Field(discriminator="kind"),
]
FIT_KINDS = frozenset(
    {
        "job_title",
        "company_size",
        "industry",
        "country",
        "campaign",
        "free_mail",
        "disposable_email",
        "competitor_domain",
        "consent",
    }
)


class PropertyCondition(Strict):
    """A condition on one activity property, e.g. `url` contains `/pricing`."""

    property: str = Field(min_length=1, max_length=60)
    match: Literal["equals", "contains", "prefix"] = "contains"
    value: str = Field(min_length=1, max_length=300)


class EngagementRule(Strict):
    id: str = Field(pattern=RULE_ID)
    activity: str = Field(min_length=1, max_length=60, examples=["demo_request"])
    when: PropertyCondition | None = None
    points: int = Field(ge=1, le=1000, description="Per activity, before decay.")
    cap: int = Field(ge=1, le=10_000, description="The most this rule adds, however active.")
    half_life_days: float = Field(gt=0, le=3650)
    description: str | None = Field(None, max_length=300)

    @model_validator(mode="after")
    def _cap_holds_one(self) -> EngagementRule:
        if self.cap < self.points:
            raise ValueError("cap must be at least points")
        return self


class GradeBands(Strict):
    """Lowest fit score for each grade; below C is D."""

    A: int
    B: int
    C: int

    @model_validator(mode="after")
    def _descending(self) -> GradeBands:
        if not self.A > self.B > self.C:
            raise ValueError("bands must descend: A > B > C")
        return self


class ThresholdPolicy(Strict):
    floor: int = Field(description="F: below it a lead is nurtured, never an MQL.")
    base: int = Field(description="B: the threshold while no sales capacity is known.")
    ceiling: int = Field(description="U: at or above it a lead is always an MQL.")

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdPolicy:
        if not self.floor <= self.base <= self.ceiling or self.floor == self.ceiling:
            raise ValueError("needs floor <= base <= ceiling and floor < ceiling")
        return self


class RecyclePolicy(Strict):
    cooldown_days: float = Field(ge=0, le=3650)
    max_recycles: int = Field(ge=0, le=100)
    disqualifying_reasons: list[str] = Field(default=list(DISQUALIFYING_DEFAULT))


class ScoringModel(Strict):
    version: str = Field(pattern=VERSION, examples=["2026.11-1"])
    description: str | None = Field(None, max_length=2000)
    fit_rules: list[FitRule] = Field(default_factory=list, max_length=500)
    engagement_rules: list[EngagementRule] = Field(default_factory=list, max_length=500)
    grades: GradeBands
    threshold: ThresholdPolicy
    recycle: RecyclePolicy

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> ScoringModel:
        seen: set[str] = set()
        for rule in [*self.fit_rules, *self.engagement_rules]:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


def parse_model(text: str | bytes, *, fmt: Literal["yaml", "json"] = "yaml") -> ScoringModel:
    """Validate a document (YAML is a superset of JSON); `Invalid` names every problem's path."""
    try:
        data = json.loads(text) if fmt == "json" else _load_yaml(text)
    except (ValueError, yaml.YAMLError) as error:
        raise Invalid.of("the model document is not valid " + fmt, "document", str(error)) from None
    return model_from_data(data)


def _load_yaml(text: str | bytes) -> Any:
    """Plain YAML only: an alias can make a small document expand without bound."""
    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, yaml.SafeLoader)):
        raise ValueError("anchors and aliases (&, *) are not accepted; write the values out")
    return yaml.safe_load(text)


def model_from_data(data: Any) -> ScoringModel:
    try:
        return ScoringModel.model_validate(data)
    except ValidationError as error:
        raise Invalid("the scoring model is invalid", problems_of(error)) from None


def problems_of(error: ValidationError) -> list[Problem]:
    return [Problem(error_path(e["loc"]), e["msg"]) for e in error.errors()]


def error_path(location: tuple[int | str, ...]) -> str:
    """`('fit_rules', 0, 'job_title', 'keywords')` -> `fit_rules.0.keywords` (no union tag)."""
    parts: list[str] = []
    previous: int | str | None = None
    for part in location:
        if isinstance(previous, int) and part in FIT_KINDS:
            previous = part
            continue
        parts.append(str(part))
        previous = part
    return ".".join(parts) or "document"
