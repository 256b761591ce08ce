"""What feedback publishes: lead.feedback.v1, sales' verdict on a lead."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from shared.events.envelope import Contract, Envelope


class Verdict(StrEnum):
    accepted = "accepted"
    rejected = "rejected"
    recycled = "recycled"
    converted = "converted"
    won = "won"
    lost = "lost"


class ReasonCode(StrEnum):
    no_budget = "no_budget"
    no_authority = "no_authority"
    no_need = "no_need"
    bad_timing = "bad_timing"
    bad_contact_data = "bad_contact_data"
    competitor = "competitor"
    student = "student"
    duplicate = "duplicate"
    spam = "spam"
    other = "other"


class LeadFeedback(Contract):
    verdict: Verdict
    reason_code: ReasonCode | None = None
    note: str | None = Field(None, max_length=2000)
    quality_rating: int | None = Field(None, ge=1, le=5)
    rep_id: str | None = None
    deal_value: Decimal | None = Field(None, ge=0, description="Only for verdict `won`.")

    @model_validator(mode="after")
    def _reason_and_value_fit_verdict(self) -> Self:
        if self.verdict is Verdict.rejected and self.reason_code is None:
            raise ValueError("a rejected verdict needs a reason_code")
        if self.deal_value is not None and self.verdict is not Verdict.won:
            raise ValueError("deal_value is only for a won verdict")
        return self


class LeadFeedbackEvent(Envelope):
    topic: ClassVar[str] = "lead.feedback.v1"
    event_type: Literal["lead.feedback"] = "lead.feedback"
    payload: LeadFeedback
