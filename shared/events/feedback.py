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


NEEDS_REASON = frozenset({Verdict.rejected, Verdict.recycled, Verdict.lost})


class LeadFeedback(Contract):
    """Sales' verdict on a lead. A reason is required for `rejected`, `recycled` and `lost`; a
    deal value and its currency belong to `won` only, and always come together."""

    verdict: Verdict
    reason_code: ReasonCode | None = Field(
        None, description="Required for rejected, recycled and lost.", examples=["no_budget"]
    )
    note: str | None = Field(None, max_length=2000, description="The rep's words, cleaned.")
    quality_rating: int | None = Field(None, ge=1, le=5)
    rep_id: str | None = Field(None, description="The rep the verdict is about (the assignee).")
    deal_value: Decimal | None = Field(None, ge=0, description="Only for verdict `won`.")
    currency: str | None = Field(
        None,
        pattern="^[A-Z]{3}$",
        description="ISO 4217 code of deal_value; only for verdict `won`, with deal_value.",
        examples=["EUR"],
    )

    @model_validator(mode="after")
    def _reason_and_value_fit_verdict(self) -> Self:
        if self.verdict in NEEDS_REASON and self.reason_code is None:
            raise ValueError(f"a {self.verdict.value} verdict needs a reason_code")
        if self.verdict is not Verdict.won and (
            self.deal_value is not None or self.currency is not None
        ):
            raise ValueError("deal_value and currency are only for a won verdict")
        if (self.deal_value is None) != (self.currency is None):
            raise ValueError("deal_value and currency come together")
        return self


class LeadFeedbackEvent(Envelope):
    topic: ClassVar[str] = "lead.feedback.v1"
    event_type: Literal["lead.feedback"] = "lead.feedback"
    payload: LeadFeedback
