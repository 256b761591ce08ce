"""The envelope every topic's record value shares, and the base of every payload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


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
        return cls(  # type: ignore[call-arg]  # event_type: each subclass fixes its own
            producer=producer,
            lead_id=lead_id,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            payload=payload,
        )
