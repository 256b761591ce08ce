"""The capture service: takes every lead from web forms and APIs, cleans it and records it."""

from fastapi import FastAPI

from services.capture.api import router
from services.capture.models import metadata
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

SPEC = ServiceSpec(name="capture", metadata=metadata, routers=[router],
                   description="Takes every lead from web forms and APIs, cleans it and records it.")


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
