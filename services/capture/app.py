"""The capture service: takes every lead from web forms and APIs, cleans it and records it."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.capture.api import router
from services.capture.models import platform
from services.capture.ratelimit import SubmissionLimits
from shared.errors import FieldError, error_response
from shared.service import ServiceSpec, create_service_app
from shared.settings import Settings

DESCRIPTION = "Takes every lead from web forms and APIs, cleans it and records it."
SPEC = ServiceSpec(name="capture", tables=platform, routers=[router], description=DESCRIPTION)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(SPEC, settings)
    app.state.submission_limits = SubmissionLimits(
        settings.form_rate_per_ip_per_minute, settings.form_rate_per_form_per_minute
    )
    app.add_middleware(
        BodySizeLimit, form_limit=settings.max_form_body_bytes, limit=settings.max_body_bytes
    )
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    return app


FORM_PATHS = "/v1/forms/"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


class BodySizeLimit:
    """413 for a request body over the limit, announced in Content-Length or counted as it
    streams in, so neither a chunked body nor a lying Content-Length gets past it.

    Public web forms, open to anyone, get the small `form_limit`; keyed API calls get `limit`.
    """

    def __init__(self, app: ASGIApp, form_limit: int, limit: int) -> None:
        self.app, self.form_limit, self.limit = app, form_limit, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.form_limit if scope["path"].startswith(FORM_PATHS) else self.limit
        announced = Headers(scope=scope).get("content-length", "")
        if announced.isdigit() and int(announced) > limit:
            return await _too_large(limit)(scope, receive, send)
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)  # the route's exception handling answers 413
            return message

        await self.app(scope, counting, send)


async def _body_too_large(_: Request, error: BodyTooLarge) -> JSONResponse:
    return _too_large(error.limit)


def _too_large(limit: int) -> JSONResponse:
    return error_response(
        413,
        f"the request body is larger than {limit} bytes",
        [FieldError(field="body", reason=f"must be at most {limit} bytes")],
    )
