"""The scoring service: grades each lead on fit and engagement with the model marketing and sales
both approved, and declares MQLs against a threshold that follows sales capacity."""

from fastapi import FastAPI

from services.scoring.api import router
from services.scoring.handlers import HANDLERS, JOBS
from services.scoring.handlers.intake import record_activities, record_captures
from services.scoring.models import platform
from shared.events import LeadActivityEvent, LeadCapturedEvent
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = "Grades each lead on fit and engagement and declares MQLs."
SPEC = ServiceSpec(
    name="scoring",
    tables=platform,
    handlers=HANDLERS,
    # beside their one-event handlers: a batch of records in a handful of statements
    batch_handlers={LeadCapturedEvent: record_captures, LeadActivityEvent: record_activities},
    jobs=JOBS,
    routers=[router],
    description=DESCRIPTION,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
