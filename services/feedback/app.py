"""The feedback service: Collects sales' verdict on every lead and reports it back to marketing."""

from fastapi import FastAPI

from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

from services.feedback.models import metadata

SPEC = ServiceSpec(name="feedback", metadata=metadata, description="Collects sales' verdict on every lead and reports it back to marketing.")


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)

