"""Teams with their capacity, and the ordered rules that send leads to them."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from services.routing.domain.criteria import GRADES
from services.routing.domain.org import Strategy
from services.routing.schemas.fields import Country, Id, Language, Strict, Text, Word


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


class CapacityOut(BaseModel):
    reps_available: int
    total_capacity: int
    open_load: int
    free_slots: int
    queue_length: int
    oldest_queued_age_s: float | None


class TeamOut(TeamIn):
    capacity: CapacityOut


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


class RuleOut(RuleIn):
    position: int
