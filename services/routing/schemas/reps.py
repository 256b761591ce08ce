"""Reps: their settings as written, their load now, and their SLA record."""

from __future__ import annotations

from typing import Self

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator, model_validator

from services.routing.domain.hours import HoursError, zone
from services.routing.domain.hours_text import parse_hours
from services.routing.schemas.fields import Country, Id, Language, Strict, Text, Word


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


class RepOut(RepIn):
    open_load: int
    assigned_today: int
    on_duty: bool = Field(description="Active, not away and inside working hours now.")
    share: float = Field(1.0, description="Below 1 while breaches lower the rep's share.")


class RepRecordOut(RepOut):
    breaches_in_window: int = Field(description="SLA breaches within the team's window.")
    breach_window_days: int
    breach_limit: int | None = Field(description="Breaches that lower the share (None: off).")
