"""The feedback service: collects sales' verdict on every lead and reports it back to marketing.

It reads every topic but its own to build one timeline per lead and the report aggregates, and
publishes `lead.feedback.v1` for each verdict it accepts.
"""

from fastapi import FastAPI

from services.feedback import handlers
from services.feedback.api import router
from services.feedback.models import platform
from shared.events import (
    LeadActivityEvent,
    LeadAssignedEvent,
    LeadCapturedEvent,
    LeadErasedEvent,
    LeadMqlEvent,
    LeadQueuedEvent,
    LeadReturnedEvent,
    LeadScoredEvent,
    SalesCapacityEvent,
)
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = "Collects sales' verdict on every lead and reports it back to marketing."
SPEC = ServiceSpec(
    name="feedback",
    tables=platform,
    handlers={
        LeadCapturedEvent: handlers.lead_captured,
        LeadActivityEvent: handlers.lead_activity,
        LeadScoredEvent: handlers.lead_scored,
        LeadMqlEvent: handlers.lead_mql,
        LeadReturnedEvent: handlers.lead_returned,
        LeadQueuedEvent: handlers.lead_queued,
        LeadAssignedEvent: handlers.lead_assigned,
        SalesCapacityEvent: handlers.sales_capacity,
        LeadErasedEvent: handlers.lead_erased,
    },
    routers=[router],
    description=DESCRIPTION,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
