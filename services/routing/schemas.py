"""Routing's request and response models. The same input models validate the admin API and
`handoff reps import` files, so a file and an API call are refused for the same reasons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.routing.domain.criteria import GRADES, PROFILE_FIELDS
from services.routing.domain.hours import HoursError, zone
from services.routing.domain.hours_text import parse_hours
from services.routing.domain.org import Strategy

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", examples=["emea-1"])]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Word = Annotated[str, Field(min_length=1, max_length=100)]


def _country(value: str) -> str:
    value = value.strip().upper()
    if len(value) != 2 or not value.isalpha():
        raise ValueError("must be an ISO 3166-1 alpha-2 code like GB")
    return value


def _language(value: str) -> str:
    value = value.strip().lower()
    if len(value) != 2 or not value.isalpha():
        raise ValueError("must be an ISO 639-1 code like en")
    return value


Country = Annotated[str, AfterValidator(_country)]
Language = Annotated[str, AfterValidator(_language)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamIn(Strict):
    id: Id
    name: Text
    strategy: Strategy = Strategy.least_loaded
    sla_minutes: int = Field(
        60, ge=1, le=10_080, description="First follow-up due within this much working time."
    )
    sla_seconds: int | None = Field(
        None, ge=1, le=604_800, description="Overrides sla_minutes when set (working seconds)."
    )
    max_attempts: int = Field(
        3, ge=1, le=10, description="Assignments after which a breached lead escalates."
    )
    breach_limit: int | None = Field(
        None, ge=1, le=1000, description="Breaches in the window that lower a rep's share."
    )
    breach_window_days: int = Field(7, ge=1, le=90)
    breach_share: float = Field(
        0.5, gt=0, le=1, description="The rep's weight is multiplied by this until they recover."
    )
    escalation_contact: str | None = Field(None, max_length=320, examples=["emea-lead@x.io"])
    fallback: bool = Field(False, description="Takes leads no rule matches (one team at most).")


class Period(Strict):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class RepIn(Strict):
    id: Id
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    name: Text
    team: Id
    capacity: int = Field(ge=0, le=10_000, description="Most open leads at once.")
    daily_cap: int | None = Field(None, ge=0, le=10_000, description="Most new leads a day.")
    weight: int = Field(1, ge=1, le=100, description="Share under weighted round robin.")
    territories: list[Country] = Field([], description="Countries; empty: any.")
    languages: list[Language] = Field([], description="Empty: any.")
    company_sizes: list[Word] = Field([], description="Segment bands; empty: any.")
    industries: list[Word] = Field([], description="Segment industries; empty: any.")
    timezone: str = Field(examples=["Europe/London"], max_length=64)
    working_hours: str = Field(
        examples=["mon-fri 09:00-17:00"], max_length=1000, description="In `timezone`."
    )
    out_of_office: list[Period] = []
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except HoursError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _readable_hours(cls, value: str, info: ValidationInfo) -> str:
        try:  # in UTC when the zone itself was refused: the shifts are checked either way
            parse_hours(info.data.get("timezone", "UTC"), value)
        except HoursError as error:
            raise ValueError(str(error)) from None
        return value


class RuleIn(Strict):
    name: Id
    team: Id
    countries: list[Country] = []
    languages: list[Language] = []
    company_sizes: list[Word] = []
    industries: list[Word] = []
    product_interests: list[Word] = []
    grades: list[str] = []

    @field_validator("grades")
    @classmethod
    def _grades(cls, values: list[str]) -> list[str]:
        for grade in values:
            if grade not in GRADES:
                raise ValueError(f"{grade!r} is not one of {', '.join(GRADES)}")
        return values


class OrgIn(Strict):
    """Teams and reps are added or updated by id; `rules`, when given, replace every rule, in
    this order (the first match wins)."""

    teams: list[TeamIn] = []
    reps: list[RepIn] = []
    rules: list[RuleIn] | None = None


class Imported(BaseModel):
    teams: int
    reps: int
    rules: int | None


class CriteriaIn(Strict):
    required_fields: list[str] = Field([], examples=[["country", "company"]])
    min_grade: str | None = Field(None, examples=["B"])
    min_score: int | None = Field(None, ge=0)
    consent_required: bool = True
    excluded_countries: list[Country] = []
    excluded_industries: list[Word] = []
    excluded_company_sizes: list[Word] = []

    @field_validator("required_fields")
    @classmethod
    def _known(cls, values: list[str]) -> list[str]:
        for name in values:
            if name not in PROFILE_FIELDS:
                raise ValueError(f"{name!r} is not one of {', '.join(PROFILE_FIELDS)}")
        return values

    @field_validator("min_grade")
    @classmethod
    def _grade(cls, value: str | None) -> str | None:
        if value is not None and value not in GRADES:
            raise ValueError(f"must be one of {', '.join(GRADES)}")
        return value


class CriteriaOut(BaseModel):
    version: int
    status: str = Field(examples=["draft", "active", "retired"])
    rules: CriteriaIn
    approvals: dict[str, str] = Field(description="role -> name of the approving key")
    missing_approvals: list[str]
    created_at: datetime
    activated_at: datetime | None


class CapacityOut(BaseModel):
    reps_available: int
    total_capacity: int
    open_load: int
    free_slots: int
    queue_length: int
    oldest_queued_age_s: float | None


class TeamOut(TeamIn):
    capacity: CapacityOut


class RepOut(RepIn):
    open_load: int
    assigned_today: int
    on_duty: bool = Field(description="Active, not away and inside working hours now.")
    share: float = Field(1.0, description="Below 1 while breaches lower the rep's share.")


class RuleOut(RuleIn):
    position: int


class AssignmentOut(BaseModel):
    id: int
    lead_id: uuid.UUID
    rep_id: str
    team_id: str
    rule: str
    strategy: str
    attempt: int
    status: str = Field(examples=["assigned", "accepted", "closed"])
    verdict: str | None
    follow_up_due: datetime
    assigned_at: datetime
    closed_at: datetime | None


class AssignmentPage(BaseModel):
    items: list[AssignmentOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


class QueuedOut(BaseModel):
    lead_id: uuid.UUID
    team_id: str | None
    rule: str
    score: int
    grade: str
    reason: str
    queued_at: datetime
    waited_s: float


class QueuePage(BaseModel):
    items: list[QueuedOut] = Field(description="Per team, in the order they will be served.")
    limit: int
    offset: int
    next_offset: int | None


class RoutingOut(BaseModel):
    lead_id: uuid.UUID
    outcome: str = Field(examples=["assigned", "queued", "returned"])
    decided_at: datetime
    criteria_version: int | None
    explanation: dict[str, Any] = Field(
        description="Criteria verdict, matched rule, strategy, every candidate and why each "
        "other one was skipped."
    )
    queue_position: int | None
    assignments: list[AssignmentOut]
