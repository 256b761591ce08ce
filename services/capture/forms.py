"""Web form submissions: read what a browser or a script posted, check where it came from,
judge it as a whole and answer the way the poster expects (a redirect or JSON).

Problems are named the way the form names its fields (`work_email`, not `email`), so a page's
script can put each message next to its input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from starlette.exceptions import HTTPException

from services.capture import domain
from services.capture.intake import Submission
from services.capture.models import Form
from services.capture.ratelimit import SubmissionLimits
from shared.errors import FieldError, error_response

FORM_SPAM = Counter(
    "handoff_form_spam_total",
    "Form submissions dropped because their honeypot field was filled.",
    ["form"],
)

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
ACCEPTED_TYPES = "application/x-www-form-urlencoded, multipart/form-data or application/json"
PREFLIGHT_HEADERS = frozenset({"content-type", "accept"})
PREFLIGHT_MAX_AGE = "600"  # short, so a changed list of allowed origins takes effect soon
T = TypeVar("T")


class SubmissionRefused(Exception):
    """A submission answered with a 4xx before it is judged: foreign origin, over the rate
    limit, a body that cannot be read."""

    def __init__(
        self,
        status: int,
        detail: str,
        field: str | None = None,
        reason: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, dict(headers or {})
        self.errors = [FieldError(field=field, reason=reason)] if field else []

    @property
    def problems(self) -> list[domain.FieldProblem]:
        """What a browser's error page shows: the field's problem, or the refusal itself."""
        if self.errors:
            return [domain.FieldProblem(e.field, e.reason) for e in self.errors]
        return [domain.FieldProblem("submission", self.detail)]

    def response(self, cors: Mapping[str, str]) -> JSONResponse:
        return error_response(self.status, self.detail, self.errors, headers=self.headers | cors)


# ---- where a submission may come from ---------------------------------------------------------


def origin_allowed(form: Form, origin: str | None, own_origin: str) -> bool:
    """No Origin (a server or an old browser) passes; capture's own pages always may post."""
    if origin is None or "*" in form.allowed_origins:
        return True
    try:
        origin = domain.normal_origin(origin)
    except ValueError:  # "null" from sandboxed frames and files, or garbage
        return False
    return origin == domain.normal_origin(own_origin) or origin in form.allowed_origins


def check_origin(form: Form, request: Request) -> dict[str, str]:
    """The CORS headers for the answer, or `SubmissionRefused` (403) for a foreign origin."""
    origin = request.headers.get("origin")
    if not origin_allowed(form, origin, f"{request.url.scheme}://{request.url.netloc}"):
        raise SubmissionRefused(
            403,
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


def check_preflight(request: Request) -> None:
    """A preflight may only ask to POST, with no headers beyond the ones a form post needs."""
    method = request.headers.get("access-control-request-method", "").strip().upper()
    if method != "POST":
        raise SubmissionRefused(
            403,
            f"a form takes POST, not {method or 'no method'}",
            "access-control-request-method",
            "must be POST",
        )
    asked = request.headers.get("access-control-request-headers", "")
    if extra := sorted(
        {h.strip().lower() for h in asked.split(",") if h.strip()} - PREFLIGHT_HEADERS
    ):
        raise SubmissionRefused(
            403,
            f"a form post may not send {', '.join(extra)}",
            "access-control-request-headers",
            f"may only name {', '.join(sorted(PREFLIGHT_HEADERS))}",
        )


def preflight_headers(cors: Mapping[str, str]) -> dict[str, str]:
    return {
        **cors,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": ", ".join(sorted(PREFLIGHT_HEADERS)),
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }


def check_rate(limits: SubmissionLimits, form: Form, request: Request) -> None:
    client_ip = request.client.host if request.client else "unknown"
    if wait := limits.wait(client_ip, form.id):
        raise SubmissionRefused(
            429, f"too many submissions; try again in {wait} s", headers={"Retry-After": str(wait)}
        )


# ---- reading the body -------------------------------------------------------------------------


async def submitted_fields(request: Request) -> dict[str, Any]:
    """The posted fields by name (the last value of a repeated field), whatever the body type."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        return await _form_fields(request)
    if media_type == "application/json":
        return await _json_fields(request)
    raise SubmissionRefused(
        415,
        f"send the submission as {ACCEPTED_TYPES}",
        "content-type",
        f"{media_type or 'a body without a type'} is not accepted",
    )


async def _form_fields(request: Request) -> dict[str, Any]:
    try:
        async with request.form() as form:
            return dict(form.items())  # a file stays an object and is refused as "must be text"
    except HTTPException as error:
        if error.status_code != 400:  # 413 from the body size limit passes through
            raise
        raise SubmissionRefused(
            400, "the form data cannot be read", "body", str(error.detail)
        ) from None


async def _json_fields(request: Request) -> dict[str, Any]:
    try:
        fields = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as error:
        raise SubmissionRefused(422, "the body is not valid JSON", "body", str(error)) from None
    except RecursionError:
        raise SubmissionRefused(
            422, "the body is not a form's fields", "body", "is nested too deeply"
        ) from None
    if not isinstance(fields, dict):
        raise SubmissionRefused(
            422,
            "the body must be a JSON object",
            "body",
            "must be an object of field names and values",
        )
    return fields


# ---- judging it -------------------------------------------------------------------------------


def is_spam(form: Form, fields: Mapping[str, Any]) -> bool:
    """A bot filled the field people never see."""
    value = fields.get(form.honeypot_field)
    return value is not None and not (isinstance(value, str) and not value.strip())


def submission_from(
    form: Form,
    fields: Mapping[str, Any],
    *,
    query: Mapping[str, str],
    posted_from: str | None,
    now: datetime,
) -> Submission:
    """The submission as a clean lead, or `InvalidLead` with every problem once."""
    canonical = domain.map_form_fields(fields, form.field_mapping)
    source = f"form:{form.id}"
    attribution_problems: list[domain.FieldProblem] = []
    attribution = _collecting(
        attribution_problems,
        lambda: domain.attribution_from(
            canonical,
            query,
            form_id=form.id,
            default_source=form.default_source,
            default_campaign=form.default_campaign,
            posted_from=posted_from,
        ),
    )
    # Attribution counts as given when it came from the query string or the form's defaults.
    given = canonical | (attribution.model_dump(exclude_none=True) if attribution else {})
    problems = domain.missing_required(given, form.required_fields)
    consent = _collecting(
        problems,
        lambda: domain.consent_from(
            canonical.get("consent"),
            required=form.consent_required,
            text_version=form.consent_version,
            source=source,
            now=now,
        ),
    )
    contact = _collecting(
        problems, lambda: domain.clean_contact(canonical, default_region=form.default_region)
    )
    problems += attribution_problems
    if problems:
        named = (
            domain.FieldProblem(form_field_name(form, p.field, fields), p.reason) for p in problems
        )
        raise domain.InvalidLead(list(dict.fromkeys(named)))  # each problem once, in order
    return Submission(contact, consent, attribution, source)


def _collecting(problems: list[domain.FieldProblem], step: Callable[[], T]) -> T | None:
    try:
        return step()
    except domain.InvalidLead as error:
        problems.extend(error.problems)
        return None


def form_field_name(form: Form, canonical: str, submitted: Iterable[str] = ()) -> str:
    """The form's own name for a canonical field: the one submitted, else the first mapped."""
    submitted = set(submitted)
    if canonical in submitted and canonical not in form.field_mapping:
        return canonical
    names = [name for name, target in form.field_mapping.items() if target == canonical]
    return next((name for name in names if name in submitted), names[0] if names else canonical)


# ---- answering a browser ----------------------------------------------------------------------


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and "json" not in accept


def with_errors(url: str, problems: Sequence[domain.FieldProblem]) -> str:
    """The error page's URL carrying each problem as `error=<field>:<reason>`."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("error", f"{problem.field}:{problem.reason}") for problem in problems]
    return urlunsplit(parts._replace(query=urlencode(query)))


def errors_from(values: Iterable[str], *, limit: int = 50) -> list[domain.FieldProblem]:
    """The problems an error page was given, read back from its `error` parameters."""
    problems = []
    for value in list(values)[:limit]:
        field, _, reason = value.partition(":")
        problems.append(domain.FieldProblem(field[:100], reason[:500] or "is invalid"))
    return problems


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
        PageInput(form_field_name(form, field), *PAGE_FIELDS[field], field in required)
        for field in shown
        if field in PAGE_FIELDS
    ]


def page_attribution(request: Request) -> dict[str, str]:
    """Hidden inputs that carry the page's own UTM parameters and referrer into the post."""
    hidden = {
        name: value
        for name, value in request.query_params.items()
        if name in domain.ATTRIBUTION_FIELDS and value
    }
    referer = request.headers.get("referer")
    if referer and "referrer" not in hidden:
        hidden["referrer"] = referer
    return hidden
