"""Signing in and out, the pages' stylesheet and script, and `/` (to the dashboard)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from services.feedback.api.pages.session import (
    Visit,
    VisitDep,
    end_session,
    form_fields,
    safe_next,
)
from shared.auth import Role, TooManyUnknownKeys

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[2] / "static"
ASSETS = {"pages.css": "text/css", "countdown.js": "text/javascript"}
PEOPLE = (Role.admin, Role.marketing, Role.sales)  # crm keys are for systems, not people


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "max-age=300"}
    )


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(
    visit: VisitDep, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    return visit.render("signin.html", next=safe_next(next), error=None)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request, visit: VisitDep) -> Response:
    fields = await form_fields(request)
    target = safe_next(fields.get("next"))
    if not visit.csrf_ok(fields):
        return visit.csrf_refused()
    key = fields.get("api_key", "").strip()
    runtime = visit.runtime
    # Counted by the client's address, as an API call's key is (shared.auth): past its budget
    # of unknown keys, an address is refused before any query until its window ends.
    address = request.client.host if request.client else "unknown"
    try:
        principal = await runtime.keys.principal(runtime.sessions, key, address) if key else None
    except TooManyUnknownKeys as refused:
        return too_many_unknown_keys(visit, target, refused.retry_after)
    if principal is None:
        return visit.render(
            "signin.html", 401, next=target, error="That key is unknown or revoked."
        )
    if principal.role not in PEOPLE:
        return visit.render(
            "signin.html",
            403,
            next=target,
            error=f"A {principal.role.value} key cannot sign in to the pages; "
            "use a marketing, sales or admin key.",
        )
    response = RedirectResponse(target, status_code=303)
    visit.start_session(response, principal, key)
    return response


def too_many_unknown_keys(visit: Visit, target: str, retry_after: int) -> Response:
    """The sign-in page again, saying how long to wait, with `Retry-After` as an API's 429."""
    wait = f"{retry_after} second{'' if retry_after == 1 else 's'}"
    response = visit.render(
        "signin.html",
        429,
        next=target,
        error=f"Too many unknown keys were tried from this address. Wait {wait}, then try "
        "again with a key you have been given.",
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@router.post("/signout")
async def signout(request: Request, visit: VisitDep) -> Response:
    fields = await form_fields(request)
    if not visit.csrf_ok(fields):
        return visit.csrf_refused()
    response = RedirectResponse("/signin", status_code=303)
    end_session(request, response)
    return response
