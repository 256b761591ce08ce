"""The scoring service: grades each lead on fit and engagement and declares MQLs.

It has no handlers or routes yet; the platform parts (health, readiness, metrics, outbox
relay, API keys) already run.
"""

from fastapi import FastAPI

from services.scoring.models import platform
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = "Grades each lead on fit and engagement and declares MQLs."
SPEC = ServiceSpec(name="scoring", tables=platform, description=DESCRIPTION)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
