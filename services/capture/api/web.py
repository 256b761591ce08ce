"""The web side of public forms: CORS and preflights, reading a posted body of any kind, the
rate limits, and answering the way the poster expects — a browser (Accept: text/html) is
redirected (303) to the thank-you or error page, anyone else gets JSON.

Refusals are raised as `shared.problems` errors; `refused` turns one into the error page's
redirect for a browser, and lets it through (with the CORS headers) to `shared.errors` otherwise.
"""

from __future__ import annotations

import codecs
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Depends, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.capture import cleaning, domain
from services.capture.models import Form
from services.capture.ratelimit import SubmissionLimits
from services.capture.schemas import LeadAccepted
from shared.problems import (
    Forbidden,
    Invalid,
    Problem,
    ServiceError,
    TooLarge,
    TooManyRequests,
    UnsupportedMediaType,
)

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
ACCEPTED_TYPES = "application/x-www-form-urlencoded, multipart/form-data or application/json"
PREFLIGHT_HEADERS = frozenset({"content-type", "accept"})
PREFLIGHT_MAX_AGE = "600"  # short, so a changed list of allowed origins takes effect soon


class Unreadable(ServiceError):
    """A body that says it is form data but cannot be parsed as such."""

    status = 400


# ---- where a submission may come from ---------------------------------------------------------


def cors_headers(form: Form, request: Request) -> dict[str, str]:
    """The CORS headers for the answer, or `Forbidden` (403) for a foreign origin."""
    origin = request.headers.get("origin")
    if not domain.origin_allowed(form, origin, f"{request.url.scheme}://{request.url.netloc}"):
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


# ---- reading the body -------------------------------------------------------------------------


async def submitted_fields(request: Request) -> dict[str, Any]:
    """The posted fields by name (the last value of a repeated field), whatever the body type."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        return await _form_fields(request)
    if media_type == "application/json":
        return await _json_fields(request)
    raise UnsupportedMediaType.of(
        f"send the submission as {ACCEPTED_TYPES}",
        "content-type",
        f"{media_type or 'a body without a type'} is not accepted",
    )


async def _form_fields(request: Request) -> dict[str, Any]:
    """Form data decoded strictly: bytes that are not text in the declared charset (UTF-8 unless
    the body names another) are refused naming the field, never replaced or read as Latin-1,
    so two different addresses cannot become one."""
    charset = _charset(request)
    try:
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            parser = _StrictMultiPartParser(request.headers, request.stream())
            fields: list[tuple[str, Any]] = list((await parser.parse()).multi_items())
            for _, value in fields:
                if isinstance(value, UploadFile):  # refused as "must be text"; its file closed
                    await value.close()
        else:
            body = (await request.body()).decode(charset, "surrogateescape")
            fields = parse_qsl(
                body,
                keep_blank_values=True,
                encoding=charset,
                errors="surrogateescape",
                max_num_fields=MAX_FIELDS,
            )
    except (MultiPartException, ValueError) as error:
        raise Unreadable.of("the form data cannot be read", "body", str(error)) from None
    undecodable = sorted(
        {_printable(name) for name, value in fields if _surrogate(name) or _surrogate(value)}
    )
    if undecodable:
        raise Invalid(
            "the form data is not valid text",
            [Problem(name, f"is not valid {charset} text") for name in undecodable],
        )
    return dict(fields)  # a file stays an object and is refused as "must be text"


MAX_FIELDS = 1000


def _charset(request: Request) -> str:
    declared = request.headers.get("content-type", "").lower().partition("charset=")[2]
    try:
        return codecs.lookup(declared.split(";")[0].strip(' "')).name if declared else "utf-8"
    except LookupError:
        raise UnsupportedMediaType.of(
            "the body's charset is not known", "content-type", f"charset {declared} is unknown"
        ) from None


def _surrogate(value: object) -> bool:
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _printable(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_SURROGATE = re.compile("[\ud800-\udfff]")


class _StrictMultiPartParser(MultiPartParser):
    """Starlette's parser, except a text part that is not valid in its charset keeps its bad
    bytes as surrogates (to be refused) instead of being read as Latin-1."""

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is not None:
            return super().on_part_end()
        value = bytes(part.data).decode(self._charset or "utf-8", "surrogateescape")
        self.items.append((part.field_name, value))
        return None


async def _json_fields(request: Request) -> dict[str, Any]:
    try:
        fields = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as error:
        raise Invalid.of("the body is not valid JSON", "body", str(error)) from None
    except RecursionError:
        raise Invalid.of(
            "the body is not a form's fields", "body", "is nested too deeply"
        ) from None
    if not isinstance(fields, dict):
        raise Invalid.of(
            "the body must be a JSON object",
            "body",
            "must be an object of field names and values",
        )
    return fields


# ---- answering --------------------------------------------------------------------------------


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and "json" not in accept


def accepted(request: Request, form: Form, answer: LeadAccepted, cors: dict[str, str]) -> Response:
    """A browser goes to the thank-you page; anyone else gets 202 and the lead's id."""
    if wants_html(request):
        url = form.thank_you_url or request.url_for("form_thank_you", form_id=form.id).path
        return RedirectResponse(url, status.HTTP_303_SEE_OTHER, headers=cors)
    return JSONResponse(answer.model_dump(mode="json"), status.HTTP_202_ACCEPTED, headers=cors)


def refused(request: Request, form: Form, error: ServiceError, cors: dict[str, str]) -> Response:
    """A browser goes to the error page, each problem in its URL; anyone else gets the error
    (raised again with the CORS headers, for `shared.errors` to answer). A foreign origin and a
    body over the size limit are never redirected, and answered without CORS headers."""
    if isinstance(error, Forbidden | TooLarge):
        raise error
    if not wants_html(request):
        error.headers.update(cors)
        raise error
    problems = error.problems or [Problem("submission", error.detail)]
    url = form.error_url or request.url_for("form_error", form_id=form.id).path
    location = with_errors(url, problems, key=error_page_key(request))
    headers = cors | {k: v for k, v in error.headers.items() if k.lower() == "retry-after"}
    return RedirectResponse(location, status.HTTP_303_SEE_OTHER, headers=headers)


def with_errors(url: str, problems: Sequence[Problem], *, key: bytes) -> str:
    """The error page's URL carrying each problem as `error=<field>:<reason>`, and capture's
    signature over them, so its own page shows only problems capture found."""
    errors = [f"{problem.field}:{problem.reason}" for problem in problems]
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("error", error) for error in errors] + [("sig", _signature(key, errors))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def errors_from(
    values: Sequence[str], signature: str | None, *, key: bytes, limit: int = 50
) -> list[Problem]:
    """The problems an error page was given, read back from its `error` parameters; none when
    capture did not sign them (a link cannot put its own sentences on capture's page)."""
    if not signature or not hmac.compare_digest(signature, _signature(key, list(values))):
        return []
    problems = []
    for value in list(values)[:limit]:
        field, _, reason = value.partition(":")
        problems.append(Problem(field[:100], reason[:500] or "is invalid"))
    return problems


def error_page_key(request: Request) -> bytes:
    settings = request.app.state.runtime.settings
    return hashlib.sha256(b"capture error page\n" + settings.secret_key.encode()).digest()


def _signature(key: bytes, errors: Sequence[str]) -> str:
    message = "\n".join(errors).encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


SUBMISSIONS_PATH = re.compile(r"/v1/forms/([a-z0-9-]{1,64})/submissions")
EARLY_REFUSALS = frozenset({404, 413})
NO_SUCH_FORM = (
    b"<!doctype html><meta charset=utf-8><title>No such form</title>"
    b"<h1>This form does not exist</h1><p>The page that sent you here links to a form that is "
    b"gone. Please contact the site you came from.</p>"
)


class EarlyRefusals:
    """Refusals answered before a form's rules are known (an unknown form's 404, the body
    limit's 413) reach a browser as every other refusal does: a script on any page can read
    them (an error tells nothing private, so `*`), and a browser navigating (Accept: text/html)
    goes to the form's error page, or gets an HTML page for a form that does not exist."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        matched = path.startswith("/v1/forms/") and SUBMISSIONS_PATH.fullmatch(path)
        if not matched or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        request = Request(scope)
        html, origin, replaced = wants_html(request), request.headers.get("origin"), False

        async def answering(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] in EARLY_REFUSALS:
                if html:
                    replaced = True
                    return await self._page(request, message["status"], matched.group(1), send)
                headers = MutableHeaders(scope=message)
                if origin and "access-control-allow-origin" not in headers:
                    headers["Access-Control-Allow-Origin"] = "*"
            if not replaced:
                await send(message)
            return None

        await self.app(scope, receive, answering)
        return None

    async def _page(self, request: Request, status_code: int, form_id: str, send: Send) -> None:
        if status_code == status.HTTP_404_NOT_FOUND:
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": NO_SUCH_FORM})
            return
        limit = request.app.state.runtime.settings.max_form_body_bytes
        problem = Problem("body", f"the submission is larger than {limit} bytes")
        url = request.url_for("form_error", form_id=form_id).path
        location = with_errors(url, [problem], key=error_page_key(request))
        await send(
            {
                "type": "http.response.start",
                "status": status.HTTP_303_SEE_OTHER,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})


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


def submission_limits(request: Request) -> SubmissionLimits:
    """The app's own rate limits (each app counts on its own), set by `create_app` beside the
    platform's runtime. Not bound with `dependency_overrides`: with any override present,
    FastAPI rebuilds every route's dependencies on each request (measured: about twice the
    CPU per lead)."""
    limits: SubmissionLimits = request.app.state.submission_limits
    return limits


SubmissionLimitsDep = Annotated[SubmissionLimits, Depends(submission_limits)]
