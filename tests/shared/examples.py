"""One realistic event per topic for the contract tests; values follow `Field(examples=...)`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from shared.events import (
    ActivityProperties,
    Attribution,
    Consent,
    Contact,
    Envelope,
    FiredRule,
    LeadActivity,
    LeadActivityEvent,
    LeadAssigned,
    LeadAssignedEvent,
    LeadCaptured,
    LeadCapturedEvent,
    LeadErased,
    LeadErasedEvent,
    LeadFeedback,
    LeadFeedbackEvent,
    LeadMql,
    LeadMqlEvent,
    LeadQueued,
    LeadQueuedEvent,
    LeadReturned,
    LeadReturnedEvent,
    LeadScored,
    LeadScoredEvent,
    RoutingProfile,
    SalesCapacity,
    SalesCapacityEvent,
)

LEAD_ID = uuid.UUID("0f1e2d3c-4b5a-4697-8877-665544332211")
CAUSE_ID = uuid.UUID("a1b2c3d4-e5f6-4a0b-9c8d-7e6f5a4b3c2d")
AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def _lead(producer: str, caused: bool = True) -> dict:
    """Envelope fields of one lead's journey; capture starts it, so it has no cause."""
    return dict(
        producer=producer,
        occurred_at=AT,
        lead_id=LEAD_ID,
        correlation_id=LEAD_ID,
        causation_id=CAUSE_ID if caused else None,
    )


_captured = LeadCapturedEvent(
    **_lead("capture", caused=False),
    payload=LeadCaptured(
        merged=False,
        contact=Contact(
            email="ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            phone="+442071234567",
            job_title="Head of Engineering",
            company="Analytical Engines Ltd",
            company_size="51-200",
            industry="software",
            country="GB",
            language="en",
        ),
        consent=Consent(given=True, text_version="2026-01", given_at=AT, source="form:demo"),
        first_touch=Attribution(
            form_id="demo",
            source="website",
            utm_source="linkedin",
            utm_medium="paid_social",
            utm_campaign="q1-launch",
        ),
        last_touch=Attribution(
            form_id="demo", source="website", landing_page="https://example.com/demo"
        ),
    ),
)

_activity = LeadActivityEvent(
    **_lead("capture"),
    payload=LeadActivity(
        activity_type="pricing_page_view",
        happened_at=AT,
        properties=ActivityProperties(
            url="https://example.com/pricing", campaign="q1-launch", plan="team"
        ),
    ),
)  # an extra property: they are open-ended

_profile = RoutingProfile(
    country="GB",
    language="en",
    company_size="51-200",
    industry="software",
    product_interest="platform",
    company="Analytical Engines Ltd",
    job_title="Head of Engineering",
    company_domain="example.com",
    consent_given=True,
)

EXAMPLES: dict[type[Envelope], Envelope] = {
    event.__class__: event
    for event in (
        _captured,
        _activity,
        LeadScoredEvent(
            **_lead("scoring"),
            payload=LeadScored(
                total_score=72,
                fit_score=45,
                grade="B",
                engagement_score=27,
                model_version="2026-03-01",
                threshold=60,
                explanation=[
                    FiredRule(rule="title_contains_head", points=15),
                    FiredRule(rule="pricing_page_view", points=10),
                ],
            ),
        ),
        LeadMqlEvent(
            **_lead("scoring"),
            payload=LeadMql(
                score=72, grade="B", model_version="2026-03-01", threshold=60, profile=_profile
            ),
        ),
        LeadQueuedEvent(
            **_lead("routing"),
            payload=LeadQueued(
                reason="no eligible rep with free capacity", team_id="emea-smb", queue_position=3
            ),
        ),
        LeadAssignedEvent(
            **_lead("routing"),
            payload=LeadAssigned(
                rep_id="rep-17",
                rep_email="grace@example.com",
                team_id="emea-smb",
                rule="emea-smb-en",
                strategy="round_robin",
                attempt=2,
                previous_rep_id="rep-04",
                follow_up_due=datetime(2026, 3, 2, 13, 30, tzinfo=UTC),
            ),
        ),
        LeadReturnedEvent(
            **_lead("routing"),
            payload=LeadReturned(
                reason="the lead's country is excluded",
                failed_criterion="excluded_countries",
                criteria_version="2026-03-01",
            ),
        ),
        SalesCapacityEvent(
            producer="routing",
            occurred_at=AT,
            payload=SalesCapacity(
                team_id="emea-smb",
                reps_available=4,
                total_capacity=40,
                open_load=37,
                free_slots=3,
                queue_length=0,
            ),
        ),
        LeadFeedbackEvent(
            **_lead("feedback"),
            payload=LeadFeedback(
                verdict="won",
                quality_rating=5,
                rep_id="rep-17",
                note="Signed the annual plan.",
                deal_value=Decimal("24000.00"),
                currency="EUR",
            ),
        ),
        LeadErasedEvent(
            **_lead("capture"),
            payload=LeadErased(requested_by="privacy-desk", reason="GDPR article 17 request"),
        ),
    )
}
