"""The capture service: takes every lead from web forms and APIs, cleans it and records it."""

from fastapi import FastAPI

from services.capture.api import router
from services.capture.api.answers import EarlyRefusals
from services.capture.models import platform
from services.capture.ratelimit import SubmissionLimits, UnknownForms
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = "Takes every lead from web forms and APIs, cleans it and records it."
FORM_PATHS = ("/v1/forms/",)  # public web forms, open to anyone: the small body limit
SPEC = ServiceSpec(
    name="capture",
    tables=platform,
    routers=[router],
    description=DESCRIPTION,
    small_body_paths=FORM_PATHS,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(SPEC, settings)
    limits = SubmissionLimits(
        settings.form_rate_per_ip_per_minute, settings.form_rate_per_form_per_minute
    )
    app.state.submission_limits = limits  # this app's own counts: see api.web.submission_limits
    app.state.unknown_forms = UnknownForms()  # see api.forms.form_to_submit
    app.add_middleware(EarlyRefusals)  # outside the body limit: sees its 413 too
    return app
