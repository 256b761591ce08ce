"""The routing service: turns MQLs that meet the agreed SQL criteria into SQLs and gives each to
an eligible rep with room, or queues it fairly until one has room."""

from fastapi import FastAPI

from services.routing.api import router
from services.routing.handlers.capacity import publish_all_capacity, publish_capacity_changes
from services.routing.handlers.mqls import route_mql, route_mqls
from services.routing.handlers.queue import drain_queues
from services.routing.handlers.verdicts import apply_feedback, erase_lead
from services.routing.models import platform
from services.routing.sla import enforce_deadlines, refresh_records
from services.routing.webhooks.sender import send_deliveries
from shared.events import LeadErasedEvent, LeadFeedbackEvent, LeadMqlEvent
from shared.jobs import Job
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = (
    "Turns MQLs that meet the agreed SQL criteria into SQLs and gives each to an eligible rep "
    "with room, or queues it fairly until one has room."
)
CAPACITY_CHANGES_EVERY_S = 0.2  # coalescing window of sales.capacity.v1 after a change
CAPACITY_HEARTBEAT_EVERY_S = 30.0
QUEUE_DRAIN_EVERY_S = 1.0  # how soon a queue moves when working hours begin
SLA_EVERY_S = 1.0  # how late a breach may be noticed
WEBHOOKS_EVERY_S = 0.5  # how soon a delivery is sent
RECORDS_EVERY_S = 2.0  # how soon a rep's share follows their breaches

SPEC = ServiceSpec(
    name="routing",
    tables=platform,
    description=DESCRIPTION,
    handlers={
        LeadMqlEvent: route_mql,
        LeadFeedbackEvent: apply_feedback,
        LeadErasedEvent: erase_lead,
    },
    batch_handlers={LeadMqlEvent: route_mqls},
    jobs=[
        Job("capacity-changes", CAPACITY_CHANGES_EVERY_S, publish_capacity_changes),
        Job("capacity-heartbeat", CAPACITY_HEARTBEAT_EVERY_S, publish_all_capacity),
        Job("queue-drain", QUEUE_DRAIN_EVERY_S, drain_queues),
        Job("sla-deadlines", SLA_EVERY_S, enforce_deadlines),
        Job("webhook-deliveries", WEBHOOKS_EVERY_S, send_deliveries),
        Job("rep-records", RECORDS_EVERY_S, refresh_records),
    ],
    routers=[router],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
