"""The event contracts: every topic round-trips, the envelope matches the SPEC, bad input fails."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.events import (
    EVENT_TYPES,
    Envelope,
    LeadActivity,
    LeadAssignedEvent,
    LeadErased,
    LeadErasedEvent,
    LeadFeedback,
    SalesCapacity,
    SalesCapacityEvent,
    parse_event,
)
from tests.shared.examples import EXAMPLES, LEAD_ID

ENVELOPE_FIELDS = {
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "producer",
    "lead_id",
    "correlation_id",
    "causation_id",
    "payload",
}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def example(event_type: type[Envelope]) -> Envelope:
    assert event_type in EXAMPLES, f"add a {event_type.__name__} to tests/shared/examples.py"
    return EXAMPLES[event_type]


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda e: e.topic)
def test_every_event_round_trips_with_its_key(event_type: type[Envelope]) -> None:
    event = example(event_type)
    parsed = parse_event(event.to_bytes())
    assert type(parsed) is event_type
    assert parsed == event
    team_keyed = event_type.topic == "sales.capacity.v1"
    assert parsed.key() == (event.payload.team_id if team_keyed else str(LEAD_ID)).encode()


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda e: e.topic)
def test_the_envelope_carries_the_spec_fields_that_are_set(event_type: type[Envelope]) -> None:
    event = example(event_type)
    sent = json.loads(event.to_bytes())
    assert sent.keys() == {name for name in ENVELOPE_FIELDS if getattr(event, name) is not None}
    assert {"event_id", "event_type", "schema_version", "occurred_at", "producer"} <= sent.keys()
    assert sent["schema_version"] == 1 and event_type.topic.endswith(".v1")
    assert RFC3339_UTC.match(sent["occurred_at"]), sent["occurred_at"]
    assert ("lead_id" in sent) is (event_type is not SalesCapacityEvent)


def test_occurred_at_is_sent_in_utc_whatever_zone_it_was_given_in() -> None:
    paris = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    event = LeadErasedEvent(
        producer="capture", lead_id=LEAD_ID, occurred_at=paris, payload=LeadErased()
    )
    assert json.loads(event.to_bytes())["occurred_at"] == "2026-03-02T09:30:00Z"
    assert RFC3339_UTC.match(
        json.loads(
            LeadErasedEvent(producer="capture", lead_id=LEAD_ID, payload=LeadErased()).to_bytes()
        )["occurred_at"]
    )


def test_caused_by_keeps_the_journey_and_names_its_cause() -> None:
    cause = example(LeadAssignedEvent)
    follow_up = LeadErasedEvent.caused_by(cause, producer="capture", payload=LeadErased())
    assert follow_up.lead_id == cause.lead_id
    assert follow_up.correlation_id == cause.correlation_id
    assert follow_up.causation_id == cause.event_id
    assert follow_up.event_id != cause.event_id and follow_up.producer == "capture"


def test_caused_by_leaves_the_lead_off_team_keyed_events() -> None:
    cause = example(LeadAssignedEvent)
    capacity = SalesCapacityEvent.caused_by(
        cause,
        producer="routing",
        payload=SalesCapacity(
            team_id="emea-smb",
            reps_available=1,
            total_capacity=10,
            open_load=10,
            free_slots=0,
            queue_length=2,
        ),
    )
    assert capacity.lead_id is None and capacity.causation_id == cause.event_id
    assert capacity.key() == b"emea-smb"


def test_an_unknown_event_type_is_refused() -> None:
    sent = json.loads(example(LeadErasedEvent).to_bytes()) | {"event_type": "lead.unknown"}
    with pytest.raises(ValidationError):
        parse_event(json.dumps(sent))


def test_a_lead_event_without_a_lead_is_refused() -> None:
    sent = json.loads(example(LeadErasedEvent).to_bytes())
    del sent["lead_id"]
    with pytest.raises(ValidationError, match="needs a lead_id"):
        parse_event(json.dumps(sent))
    with pytest.raises(ValidationError, match="needs a lead_id"):
        LeadErasedEvent(producer="capture", payload=LeadErased())


def test_a_rejected_verdict_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason_code"):
        LeadFeedback(verdict="rejected")
    assert LeadFeedback(verdict="rejected", reason_code="no_budget").reason_code == "no_budget"


@pytest.mark.parametrize("verdict", ["accepted", "rejected", "recycled", "converted", "lost"])
def test_only_a_won_verdict_carries_a_deal_value(verdict: str) -> None:
    with pytest.raises(ValidationError, match="deal_value"):
        LeadFeedback(verdict=verdict, reason_code="other", deal_value=Decimal("100"))


@pytest.mark.parametrize("rating", [0, 6])
def test_quality_rating_is_one_to_five(rating: int) -> None:
    with pytest.raises(ValidationError, match="quality_rating"):
        LeadFeedback(verdict="accepted", quality_rating=rating)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 9, 30)
    with pytest.raises(ValidationError, match="occurred_at"):
        LeadErasedEvent(
            producer="capture", lead_id=uuid.uuid4(), occurred_at=naive, payload=LeadErased()
        )
    with pytest.raises(ValidationError, match="happened_at"):
        LeadActivity(activity_type="page_view", happened_at=naive)
    sent = json.loads(example(LeadErasedEvent).to_bytes()) | {"occurred_at": naive.isoformat()}
    with pytest.raises(ValidationError):
        parse_event(json.dumps(sent))
