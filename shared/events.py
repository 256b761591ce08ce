"""Event contracts: the envelope and every payload of the SPEC's topics, one definition each.

The same classes validate what consumers read, serialise what producers write and generate the
published JSON Schemas (`handoff schemas`). Topic names are the base names; a deployment may add
a prefix (see `shared.topics`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# ---- lead.captured.v1 -------------------------------------------------------------------------


class Contact(Contract):
    email: str = Field(
        description="Normalised email address; identifies the person.", examples=["ada@example.com"]
    )
    first_name: str | None = Field(None, max_length=100, examples=["Ada"])
    last_name: str | None = Field(None, max_length=100, examples=["Lovelace"])
    phone: str | None = Field(None, description="E.164", examples=["+442071234567"])
    job_title: str | None = Field(None, max_length=150, examples=["Head of Engineering"])
    company: str | None = Field(None, max_length=200, examples=["Analytical Engines Ltd"])
    company_size: str | None = Field(
        None, description="Employee band, e.g. 51-200", examples=["51-200"]
    )
    industry: str | None = Field(None, max_length=100, examples=["software"])
    country: str | None = Field(None, description="ISO 3166-1 alpha-2", examples=["GB"])
    language: str | None = Field(None, description="ISO 639-1", examples=["en"])
    free_mail: bool = Field(False, description="The email is at a free-mail provider.")
    disposable_email: bool = Field(False, description="The email is at a disposable domain.")


class Consent(Contract):
    given: bool
    text_version: str | None = Field(None, examples=["2026-01"])
    given_at: AwareDatetime | None = None
    source: str | None = Field(
        None, description="Where it was given, e.g. form:demo", examples=["form:demo"]
    )


class Attribution(Contract):
    form_id: str | None = Field(None, examples=["demo"])
    source: str | None = Field(None, examples=["website"])
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    referrer: str | None = None
    landing_page: str | None = None


class LeadCaptured(Contract):
    merged: bool = Field(description="True when the submission merged into an existing lead.")
    contact: Contact
    consent: Consent
    first_touch: Attribution
    last_touch: Attribution


# ---- lead.activity.v1 -------------------------------------------------------------------------


class ActivityType(StrEnum):
    page_view = "page_view"
    pricing_page_view = "pricing_page_view"
    content_download = "content_download"
    webinar_attended = "webinar_attended"
    email_open = "email_open"
    email_click = "email_click"
    demo_request = "demo_request"
    trial_signup = "trial_signup"
    unsubscribe = "unsubscribe"


class ActivityProperties(Contract):
    model_config = ConfigDict(extra="allow", frozen=True)
    url: str | None = Field(None, max_length=2048)
    asset: str | None = Field(None, max_length=300)
    campaign: str | None = Field(None, max_length=300)


class LeadActivity(Contract):
    activity_type: ActivityType
    happened_at: AwareDatetime
    properties: ActivityProperties = ActivityProperties()


# ---- lead.scored.v1 / lead.mql.v1 -------------------------------------------------------------


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class FiredRule(Contract):
    rule: str = Field(examples=["title_contains_head"])
    points: int


class LeadScored(Contract):
    total_score: int
    fit_score: int
    grade: Grade
    engagement_score: int
    model_version: str
    threshold: int = Field(description="MQL threshold in force when the lead was scored.")
    explanation: list[FiredRule]


class RoutingProfile(Contract):
    country: str | None = None
    language: str | None = None
    company_size: str | None = None
    industry: str | None = None
    product_interest: str | None = None


class LeadMql(Contract):
    score: int
    grade: Grade
    model_version: str
    threshold: int
    profile: RoutingProfile


# ---- routing ----------------------------------------------------------------------------------


class LeadQueued(Contract):
    reason: str = Field(examples=["no eligible rep with free capacity"])
    team_id: str | None = None
    queue_position: int = Field(ge=1)


class LeadAssigned(Contract):
    rep_id: str
    rep_email: str
    team_id: str
    rule: str = Field(description="The routing rule that matched.")
    strategy: str = Field(examples=["round_robin", "least_loaded"])
    attempt: int = Field(1, ge=1, description="1 for the first assignment, 2+ on reassignment.")
    previous_rep_id: str | None = None
    follow_up_due: AwareDatetime = Field(description="SLA deadline for the rep's first follow-up.")


class SalesCapacity(Contract):
    team_id: str
    reps_available: int = Field(ge=0)
    total_capacity: int = Field(ge=0)
    open_load: int = Field(ge=0)
    free_slots: int = Field(ge=0)
    queue_length: int = Field(ge=0)


# ---- feedback / erasure -----------------------------------------------------------------------


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


class LeadErased(Contract):
    requested_by: str | None = Field(None, description="Who asked for the erasure (key name).")
    reason: str | None = None


# ---- the envelope -----------------------------------------------------------------------------


class Envelope(Contract):
    """The record value on every topic. Subclasses fix `event_type` and `payload`."""

    topic: ClassVar[str]
    keyed_by_team: ClassVar[bool] = False

    event_id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="Unique per event; consumers ignore redeliveries by it.",
    )
    event_type: str
    schema_version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    producer: str = Field(description="Name of the service that produced the event.")
    lead_id: uuid.UUID | None = None
    correlation_id: uuid.UUID | None = Field(
        None, description="Same for every event of one lead's journey since capture."
    )
    causation_id: uuid.UUID | None = Field(
        None, description="event_id of the event that caused this one."
    )
    payload: Any

    @field_validator("occurred_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        # The SPEC promises UTC on the wire; an aware time in another zone is the same instant.
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _lead_events_carry_a_lead(self) -> Self:
        if not self.keyed_by_team and self.lead_id is None:
            raise ValueError(f"{self.event_type} needs a lead_id")
        return self

    def key(self) -> bytes:
        """Record key: the lead id, or the team id for capacity events."""
        key = self.payload.team_id if self.keyed_by_team else str(self.lead_id)
        return key.encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def caused_by(cls, cause: Envelope, *, producer: str, payload: Any) -> Self:
        """A follow-up event in the same lead's journey."""
        # Team-keyed events (capacity) carry no lead, even when a lead's event caused them.
        lead_id = None if cls.keyed_by_team else cause.lead_id
        return cls(
            producer=producer,
            lead_id=lead_id,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            payload=payload,
        )


class LeadCapturedEvent(Envelope):
    topic: ClassVar[str] = "lead.captured.v1"
    event_type: Literal["lead.captured"] = "lead.captured"
    payload: LeadCaptured


class LeadActivityEvent(Envelope):
    topic: ClassVar[str] = "lead.activity.v1"
    event_type: Literal["lead.activity"] = "lead.activity"
    payload: LeadActivity


class LeadScoredEvent(Envelope):
    topic: ClassVar[str] = "lead.scored.v1"
    event_type: Literal["lead.scored"] = "lead.scored"
    payload: LeadScored


class LeadMqlEvent(Envelope):
    topic: ClassVar[str] = "lead.mql.v1"
    event_type: Literal["lead.mql"] = "lead.mql"
    payload: LeadMql


class LeadQueuedEvent(Envelope):
    topic: ClassVar[str] = "lead.queued.v1"
    event_type: Literal["lead.queued"] = "lead.queued"
    payload: LeadQueued


class LeadAssignedEvent(Envelope):
    topic: ClassVar[str] = "lead.assigned.v1"
    event_type: Literal["lead.assigned"] = "lead.assigned"
    payload: LeadAssigned


class SalesCapacityEvent(Envelope):
    topic: ClassVar[str] = "sales.capacity.v1"
    keyed_by_team: ClassVar[bool] = True
    event_type: Literal["sales.capacity"] = "sales.capacity"
    payload: SalesCapacity


class LeadFeedbackEvent(Envelope):
    topic: ClassVar[str] = "lead.feedback.v1"
    event_type: Literal["lead.feedback"] = "lead.feedback"
    payload: LeadFeedback


class LeadErasedEvent(Envelope):
    topic: ClassVar[str] = "lead.erased.v1"
    event_type: Literal["lead.erased"] = "lead.erased"
    payload: LeadErased


EVENT_TYPES: tuple[type[Envelope], ...] = (
    LeadCapturedEvent,
    LeadActivityEvent,
    LeadScoredEvent,
    LeadMqlEvent,
    LeadQueuedEvent,
    LeadAssignedEvent,
    SalesCapacityEvent,
    LeadFeedbackEvent,
    LeadErasedEvent,
)
TOPICS: tuple[str, ...] = tuple(event.topic for event in EVENT_TYPES)

AnyEvent = Annotated[Union[EVENT_TYPES], Field(discriminator="event_type")]  # noqa: UP007
_any_event = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> Envelope:
    """Validate a record value into its event class; raises pydantic.ValidationError."""
    return _any_event.validate_json(raw)
