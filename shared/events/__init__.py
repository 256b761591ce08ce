"""Event contracts: the envelope and every payload of the SPEC's topics, one definition each.

The same classes validate what consumers read, serialise what producers write and generate the
published JSON Schemas (`handoff schemas`). Topic names are the base names; a deployment may add
a prefix (`Settings.topic`). Payloads live with the service that produces them.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from shared.events.capture import (
    ActivityProperties,
    ActivityType,
    Attribution,
    Consent,
    Contact,
    LeadActivity,
    LeadActivityEvent,
    LeadCaptured,
    LeadCapturedEvent,
    LeadErased,
    LeadErasedEvent,
)
from shared.events.envelope import Contract, Envelope, utc_now
from shared.events.feedback import LeadFeedback, LeadFeedbackEvent, ReasonCode, Verdict
from shared.events.routing import (
    LeadAssigned,
    LeadAssignedEvent,
    LeadQueued,
    LeadQueuedEvent,
    LeadReturned,
    LeadReturnedEvent,
    SalesCapacity,
    SalesCapacityEvent,
)
from shared.events.scoring import (
    FiredRule,
    Grade,
    LeadMql,
    LeadMqlEvent,
    LeadScored,
    LeadScoredEvent,
    RoutingProfile,
)

EVENT_TYPES: tuple[type[Envelope], ...] = (
    LeadCapturedEvent,
    LeadActivityEvent,
    LeadScoredEvent,
    LeadMqlEvent,
    LeadQueuedEvent,
    LeadAssignedEvent,
    LeadReturnedEvent,
    SalesCapacityEvent,
    LeadFeedbackEvent,
    LeadErasedEvent,
)
TOPICS: tuple[str, ...] = tuple(event.topic for event in EVENT_TYPES)

AnyEvent = Annotated[Union[EVENT_TYPES], Field(discriminator="event_type")]  # type: ignore[valid-type]  # noqa: UP007
_any_event: TypeAdapter[Envelope] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> Envelope:
    """Validate a record value into its event class; raises pydantic.ValidationError."""
    return _any_event.validate_json(raw)


__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "ActivityProperties",
    "ActivityType",
    "AnyEvent",
    "Attribution",
    "Consent",
    "Contact",
    "Contract",
    "Envelope",
    "FiredRule",
    "Grade",
    "LeadActivity",
    "LeadActivityEvent",
    "LeadAssigned",
    "LeadAssignedEvent",
    "LeadCaptured",
    "LeadCapturedEvent",
    "LeadErased",
    "LeadErasedEvent",
    "LeadFeedback",
    "LeadFeedbackEvent",
    "LeadMql",
    "LeadMqlEvent",
    "LeadQueued",
    "LeadQueuedEvent",
    "LeadReturned",
    "LeadReturnedEvent",
    "LeadScored",
    "LeadScoredEvent",
    "ReasonCode",
    "RoutingProfile",
    "SalesCapacity",
    "SalesCapacityEvent",
    "Verdict",
    "parse_event",
    "utc_now",
]
