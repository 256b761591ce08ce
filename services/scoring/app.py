"""The scoring service: Grades each lead on fit and engagement and declares MQLs."""

from fastapi import FastAPI

from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

from services.scoring.models import metadata

SPEC = ServiceSpec(name="scoring", metadata=metadata, description="Grades each lead on fit and engagement and declares MQLs.")


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)

