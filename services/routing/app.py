"""The routing service: Turns MQLs into SQLs and assigns each to a rep with territory and free capacity."""

from fastapi import FastAPI

from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

from services.routing.models import metadata

SPEC = ServiceSpec(name="routing", metadata=metadata, description="Turns MQLs into SQLs and assigns each to a rep with territory and free capacity.")


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)

