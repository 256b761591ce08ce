"""What feedback's API takes and gives."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.feedback.domain.stages import Stage
from services.feedback.domain.verdicts import clean_currency, clean_note
from shared.events import ReasonCode, Verdict

Note = Annotated[str, AfterValidator(clean_note)]
Currency = Annotated[str, AfterValidator(clean_currency)]


class VerdictIn(BaseModel):
    """Sales' verdict on a lead."""

    model_config = ConfigDict(extra="forbid")

    lead_id: uuid.UUID
    verdict: Verdict
    reason_code: ReasonCode | None = Field(
        None, description="Required for rejected, recycled and lost.", examples=["no_budget"]
    )
    note: Note | None = Field(None, description="In the rep's own words; up to 2000 characters.")
    quality_rating: int | None = Field(None, ge=1, le=5, description="How good the lead was.")
    deal_value: Decimal | None = Field(
        None, ge=0, max_digits=18, decimal_places=2, description="Only for won, with currency."
    )
    currency: Currency | None = Field(None, description="ISO 4217; only for won.", examples=["EUR"])


class VerdictOut(BaseModel):
    event_id: uuid.UUID = Field(description="The lead.feedback.v1 event this verdict became.")
    lead_id: uuid.UUID
    verdict: Verdict
    rep_id: str | None
    stage: Stage = Field(description="The lead's stage after the verdict.")
    allowed_next: list[Verdict] = Field(description="Verdicts the lead may get next.")
    occurred_at: datetime


class TimelineEntryOut(BaseModel):
    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    actor: str = Field(description="Who acted: the service, or the rep for a verdict.")
    summary: str = Field(description="What happened and why, in words.")
    detail: dict[str, Any]


class LeadOut(BaseModel):
    lead_id: uuid.UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    job_title: str | None
    country: str | None
    score: int | None
    grade: str | None
    stage: Stage
    day: date = Field(description="The day the lead was captured (its cohort).")
    source: str | None
    form: str | None
    utm_campaign: str | None
    team: str | None
    rep: str | None
    allowed_verdicts: list[Verdict]


class TimelineOut(BaseModel):
    lead: LeadOut
    events: list[TimelineEntryOut]


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class ReportOut(BaseModel):
    report: str
    since: date = Field(serialization_alias="from")
    until: date = Field(serialization_alias="to")
    group_by: str | None
    rows: list[dict[str, Any]]
