"""The routing service: turns MQLs into SQLs and assigns each to a rep with territory and free
capacity.

It has no handlers or routes yet; the platform parts (health, readiness, metrics, outbox
relay, API keys) already run.
"""

from fastapi import FastAPI

from services.routing.models import platform
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = "Turns MQLs into SQLs and assigns each to a rep with territory and free capacity."
SPEC = ServiceSpec(name="routing", tables=platform, description=DESCRIPTION)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings)
