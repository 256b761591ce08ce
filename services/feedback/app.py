"""The feedback service: collects sales' verdict on every lead and reports it back to marketing.

It has no handlers or routes yet; the platform parts (health, readiness, metrics, outbox
relay, API keys) already run.
"""

from fastapi import FastAPI

from services.feedback.models import platform
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = "Collects sales' verdict on every lead and reports it back to marketing."
SPEC = ServiceSpec(name="feedback", tables=platform, description=DESCRIPTION)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
