"""What scoring publishes: lead.scored.v1 and lead.mql.v1."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import Contract, Envelope


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class FiredRule(Contract):
    rule: str = Field(examples=["title_contains_head"])
    points: int
    kind: Literal["fit", "engagement"] | None = Field(
        None, description="A fit rule (who the lead is) or an engagement rule (what they did)."
    )
    decayed_value: float | None = Field(
        None,
        description="Engagement only: the rule's points after half-life decay and its cap, "
        "before rounding to `points`.",
        examples=[27.5],
    )


class LeadScored(Contract):
    total_score: int
    fit_score: int
    grade: Grade
    engagement_score: int
    model_version: str
    threshold: int = Field(description="MQL threshold in force when the lead was scored.")
    explanation: list[FiredRule]


class RoutingProfile(Contract):
    """What routing needs to judge and place an MQL; it never reads capture's tables."""

    country: str | None = Field(None, description="ISO 3166-1 alpha-2")
    language: str | None = Field(None, description="ISO 639-1")
    company_size: str | None = Field(None, examples=["51-200"])
    industry: str | None = None
    product_interest: str | None = None
    company: str | None = None
    job_title: str | None = None
    company_domain: str | None = Field(
        None,
        description="The email's domain, unless it is a free-mail provider's.",
        examples=["example.com"],
    )
    consent_given: bool = False


class LeadMql(Contract):
    score: int
    grade: Grade
    model_version: str
    threshold: int
    profile: RoutingProfile


class LeadScoredEvent(Envelope):
    topic: ClassVar[str] = "lead.scored.v1"
    event_type: Literal["lead.scored"] = "lead.scored"
    payload: LeadScored


class LeadMqlEvent(Envelope):
    topic: ClassVar[str] = "lead.mql.v1"
    event_type: Literal["lead.mql"] = "lead.mql"
    payload: LeadMql
