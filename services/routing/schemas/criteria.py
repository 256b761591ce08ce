"""The SQL criteria: a version's rules as written, and the version with its approvals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from services.routing.domain.criteria import GRADES, PROFILE_FIELDS
from services.routing.schemas.fields import Country, Strict, Word


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
