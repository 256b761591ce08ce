"""What routing publishes: lead.assigned.v1, lead.queued.v1, lead.returned.v1, sales.capacity.v1."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shared.events.envelope import Contract, Envelope


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
    oldest_queued_age_s: float | None = Field(
        None, ge=0, description="Seconds the oldest queued SQL of the team has waited."
    )
    as_of: AwareDatetime | None = Field(None, description="When the snapshot was taken.")


class LeadReturned(Contract):
    """An MQL routing did not accept as an SQL: back to marketing's nurture pool."""

    reason: str = Field(examples=["the lead's country is excluded"])
    failed_criterion: str = Field(
        description="The SQL criterion it failed.", examples=["excluded_countries"]
    )
    criteria_version: str = Field(description="Version of the SQL criteria that judged it.")


class LeadQueuedEvent(Envelope):
    topic: ClassVar[str] = "lead.queued.v1"
    event_type: Literal["lead.queued"] = "lead.queued"
    payload: LeadQueued


class LeadAssignedEvent(Envelope):
    topic: ClassVar[str] = "lead.assigned.v1"
    event_type: Literal["lead.assigned"] = "lead.assigned"
    payload: LeadAssigned


class LeadReturnedEvent(Envelope):
    topic: ClassVar[str] = "lead.returned.v1"
    event_type: Literal["lead.returned"] = "lead.returned"
    payload: LeadReturned


class SalesCapacityEvent(Envelope):
    topic: ClassVar[str] = "sales.capacity.v1"
    keyed_by_team: ClassVar[bool] = True
    event_type: Literal["sales.capacity"] = "sales.capacity"
    payload: SalesCapacity
