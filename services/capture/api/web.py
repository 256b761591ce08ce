"""The web side of public forms: where a submission may come from (CORS and preflights), the
rate limits, and what capture's own form page shows. Reading a posted body is in `bodies`,
answering the way the poster expects (a browser redirected, anyone else JSON) in `answers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.capture import cleaning, domain, origins
from services.capture.models import Form
from services.capture.ratelimit import SubmissionLimits
from shared.problems import Forbidden, TooManyRequests

PREFLIGHT_HEADERS = frozenset({"content-type", "accept"})
PREFLIGHT_MAX_AGE = "600"  # short, so a changed list of allowed origins takes effect soon


# ---- where a submission may come from ---------------------------------------------------------


def cors_headers(form: Form, request: Request) -> dict[str, str]:
    """The CORS headers for the answer, or `Forbidden` (403) for a foreign origin."""
    origin = request.headers.get("origin")
    if not origins.origin_allowed(
        form.allowed_origins, origin, f"{request.url.scheme}://{request.url.netloc}"
    ):
        raise Forbidden.of(
            f"form {form.id} does not accept posts from {origin}",
            "origin",
            "is not one of the form's allowed origins",
        )
    if origin is None:
        return {}
    exposed = {"Access-Control-Expose-Headers": "Retry-After"}
    if "*" in form.allowed_origins:
        return {"Access-Control-Allow-Origin": "*", **exposed}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", **exposed}


def preflight_headers(request: Request, cors: Mapping[str, str]) -> dict[str, str]:
    """A preflight may only ask to POST, with no headers beyond the ones a form post needs."""
    method = request.headers.get("access-control-request-method", "").strip().upper()
    if method != "POST":
        raise Forbidden.of(
            f"a form takes POST, not {method or 'no method'}",
            "access-control-request-method",
            "must be POST",
        )
    asked = request.headers.get("access-control-request-headers", "")
    if extra := sorted(
        {h.strip().lower() for h in asked.split(",") if h.strip()} - PREFLIGHT_HEADERS
    ):
        raise Forbidden.of(
            f"a form post may not send {', '.join(extra)}",
            "access-control-request-headers",
            f"may only name {', '.join(sorted(PREFLIGHT_HEADERS))}",
        )
    return {
        **cors,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": ", ".join(sorted(PREFLIGHT_HEADERS)),
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_rate(limits: SubmissionLimits, form: Form, request: Request) -> None:
    if wait := limits.wait(client_ip(request), form.id):
        raise TooManyRequests(
            f"too many submissions; try again in {wait} s", headers={"Retry-After": str(wait)}
        )


# ---- the form page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageInput:
    name: str
    label: str
    type: str
    autocomplete: str
    required: bool


# canonical field: (label, input type, autocomplete token browsers fill it from)
PAGE_FIELDS = {
    "email": ("Email", "email", "email"),
    "first_name": ("First name", "text", "given-name"),
    "last_name": ("Last name", "text", "family-name"),
    "company": ("Company", "text", "organization"),
    "job_title": ("Job title", "text", "organization-title"),
    "country": ("Country", "text", "country-name"),
    "phone": ("Phone", "tel", "tel"),
    "company_size": ("Company size", "text", "off"),
    "industry": ("Industry", "text", "off"),
    "language": ("Language", "text", "language"),
}


def page_inputs(form: Form) -> list[PageInput]:
    """An input for every contact field the form maps or requires, email always."""
    required = {"email", *form.required_fields}
    shown = dict.fromkeys([*form.field_mapping.values(), *form.required_fields, "email"])
    return [
        PageInput(domain.form_field_name(form, field), *PAGE_FIELDS[field], field in required)
        for field in shown
        if field in PAGE_FIELDS
    ]


def page_attribution(request: Request) -> dict[str, str]:
    """Hidden inputs that carry the page's own UTM parameters and referrer into the post."""
    hidden = {
        name: value
        for name, value in request.query_params.items()
        if name in cleaning.ATTRIBUTION_FIELDS and value
    }
    referer = request.headers.get("referer")
    if referer and "referrer" not in hidden:
        hidden["referrer"] = referer
    return hidden


async def submission_limits(request: Request) -> SubmissionLimits:
    """The app's own rate limits (each app counts on its own), set by `create_app` beside the
    platform's runtime. Not bound with `dependency_overrides`: with any override present,
    FastAPI rebuilds every route's dependencies on each request (measured: about twice the
    CPU per lead). A coroutine, so FastAPI does not run it in its thread pool."""
    limits: SubmissionLimits = request.app.state.submission_limits
    return limits


SubmissionLimitsDep = Annotated[SubmissionLimits, Depends(submission_limits)]
