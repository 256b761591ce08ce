"""Answering a form's poster the way it expects: a browser (Accept: text/html) is redirected
(303) to the thank-you or error page, anyone else gets JSON.

Refusals are raised as `shared.problems` errors; `refused` turns one into the error page's
redirect for a browser, and lets it through (with the CORS headers) to `shared.errors`
otherwise. `EarlyRefusals` does the same for refusals made before a form's rules are known.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.capture.models import Form
from services.capture.schemas import LeadAccepted
from shared.problems import Forbidden, Problem, ServiceError, TooLarge


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
