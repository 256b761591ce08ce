"""The feedback service: collects sales' verdict on every lead and reports it back to marketing.

It reads every topic but its own to build one timeline per lead and the report aggregates, and
publishes `lead.feedback.v1` for each verdict it accepts.
"""

from fastapi import FastAPI

from services.feedback.api import router
from services.feedback.handlers import leads
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
        LeadCapturedEvent: leads.lead_captured,
        LeadActivityEvent: leads.lead_activity,
        LeadScoredEvent: leads.lead_scored,
        LeadMqlEvent: leads.lead_mql,
        LeadReturnedEvent: leads.lead_returned,
        LeadQueuedEvent: leads.lead_queued,
        LeadAssignedEvent: leads.lead_assigned,
        SalesCapacityEvent: leads.sales_capacity,
        LeadErasedEvent: leads.lead_erased,
    },
    batch_handlers={  # a run of one type of lead event in a few statements (`leads.take_in`)
        LeadCapturedEvent: leads.take_in,
        LeadActivityEvent: leads.take_in,
        LeadScoredEvent: leads.take_in,
        LeadMqlEvent: leads.take_in,
        LeadReturnedEvent: leads.take_in,
        LeadQueuedEvent: leads.take_in,
        LeadAssignedEvent: leads.take_in,
    },
    routers=[router],
    description=DESCRIPTION,
    # Reports, off the way from form post to rep: a quarter of a second behind at most, for a
    # fraction of the work per event (measured in bench/README, "Feedback gathers").
    gather_ms=250,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
