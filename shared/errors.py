"""One error format for every service: 4xx answers name each field and the reason.

Use cases raise `shared.problems.ServiceError`s; this module maps them, and FastAPI's own
validation and HTTP errors, to the one body. Routes never build an error answer by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from shared.db import DATABASE_ERRORS, is_concurrency_conflict, is_database_outage
from shared.problems import Problem, ServiceError

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[FieldError] = []


def field_path(location: Iterable[object]) -> str:
    """`("body", "contact", "email")` -> `contact.email`; the request part is implied."""
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    return [
        FieldError(field=field_path(error.get("loc", ())), reason=error.get("msg", "invalid"))
        for error in errors
    ]


def error_response(
    status: int,
    detail: str,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(detail=detail, errors=list(errors))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def field_errors(problems: Iterable[Problem]) -> list[FieldError]:
    return [FieldError(field=p.field, reason=p.reason) for p in problems]


def service_error_response(
    error: ServiceError, headers: dict[str, str] | None = None
) -> JSONResponse:
    return error_response(
        error.status,
        error.detail,
        field_errors(error.problems),
        headers=error.headers | (headers or {}),
    )


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route of the app takes at the request's path, sorted (asked of the
    routes themselves, so routes left out of the OpenAPI document count too). Starlette's 405
    names only the first route whose path matched: a path three routes share (`GET`, `PUT`,
    `DELETE`) was told `Allow: PUT` alone."""
    routes = scope["app"].router.routes
    return [
        method
        for method in METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _refused(_: Request, error: ServiceError) -> JSONResponse:
        return service_error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status_code == 405 and (methods := allowed_methods(request.scope)):
            headers["Allow"] = ", ".join(methods)
        return error_response(error.status_code, str(error.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(422, "the request is invalid", validation_errors(error.errors()))

    async def _database_error(_: Request, error: Exception) -> JSONResponse:
        if is_database_outage(error):
            log.warning("database unavailable: %s: %s", type(error).__name__, error)
            return error_response(
                503, "the database is unavailable; retry shortly", headers={"Retry-After": "1"}
            )
        if is_concurrency_conflict(error):
            log.warning("concurrent transactions conflicted: %s: %s", type(error).__name__, error)
            return error_response(
                503,
                "a concurrent change conflicted with this one; nothing was written, retry",
                headers={"Retry-After": "1"},
            )
        log.error("database error", exc_info=error)
        return error_response(500, "internal error; it was logged")

    for error_type in DATABASE_ERRORS:
        app.add_exception_handler(error_type, _database_error)
