"""Web forms: the admin API that defines them, and the public endpoints browsers post to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture import forms, repository
from services.capture.domain import FieldProblem, InvalidLead
from services.capture.forms import FORM_SPAM, PAGE_FIELDS, SubmissionRefused
from services.capture.intake import capture_lead
from services.capture.models import Form
from services.capture.schemas import FormIn, FormList, FormOut, LeadAccepted
from shared.auth import RoleRequired
from shared.errors import ErrorBody, FieldError, error_response
from shared.service import Runtime, RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/forms")
templates = Jinja2Templates(directory=FilePath(__file__).parent.parent / "templates")

ADMIN = [Depends(RoleRequired())]
ADMIN_ERRORS = {code: {"model": ErrorBody} for code in (401, 403, 422)}
NOT_FOUND = {404: {"model": ErrorBody}}
FormId = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9-]{1,64}$",
        examples=["demo"],
        description="Lower-case letters, digits and hyphens.",
    ),
]


async def _form(session: AsyncSession, form_id: str) -> Form:
    form = await repository.form_by_id(session, form_id)
    if form is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"there is no form {form_id}")
    return form


# ---- admin ------------------------------------------------------------------------------------


@router.put(
    "/{form_id}",
    tags=["forms"],
    dependencies=ADMIN,
    response_model=FormOut,
    responses={201: {"model": FormOut, "description": "Created."}, **ADMIN_ERRORS},
)
async def put_form(
    form_id: FormId, definition: FormIn, session: SessionDep, response: Response
) -> FormOut:
    """Create a form, or replace its whole definition (200 replaced, 201 created)."""
    form, created = await repository.save_form(session, form_id, definition.model_dump())
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return FormOut.model_validate(form)


@router.get("", tags=["forms"], dependencies=ADMIN, responses=ADMIN_ERRORS)
async def list_forms(session: SessionDep) -> FormList:
    """Every form, by id."""
    return FormList(forms=[FormOut.model_validate(f) for f in await repository.all_forms(session)])


@router.get(
    "/{form_id}", tags=["forms"], dependencies=ADMIN, responses={**ADMIN_ERRORS, **NOT_FOUND}
)
async def get_form(form_id: FormId, session: SessionDep) -> FormOut:
    """One form's definition."""
    return FormOut.model_validate(await _form(session, form_id))


@router.delete(
    "/{form_id}",
    tags=["forms"],
    dependencies=ADMIN,
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ADMIN_ERRORS, **NOT_FOUND},
)
async def delete_form(form_id: FormId, session: SessionDep) -> Response:
    """Delete a form; leads it captured stay."""
    if not await repository.delete_form(session, form_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"there is no form {form_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- submissions ------------------------------------------------------------------------------

SUBMISSION_BODY = {
    "required": True,
    "content": {
        media_type: {
            "schema": {
                "type": "object",
                "additionalProperties": True,
                "description": "The form's fields by the names the form uses.",
            }
        }
        for media_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json",
        )
    },
}
SUBMISSION_ANSWERS = {
    202: {"model": LeadAccepted, "description": "Captured (an API client)."},
    303: {
        "description": "A browser (Accept: text/html) goes to the thank-you page, or to the "
        "error page with `error=<field>:<reason>` per problem."
    },
    **{code: {"model": ErrorBody} for code in (400, 403, 404, 413, 415, 422, 429)},
}


@router.options(
    "/{form_id}/submissions",
    tags=["form submissions"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"model": ErrorBody}},
)
async def preflight(form_id: FormId, request: Request, session: SessionDep) -> Response:
    """Answer a browser's CORS preflight: allowed origins get the CORS headers, others 403."""
    form = await _form(session, form_id)
    try:
        cors = forms.check_origin(form, request)
        forms.check_preflight(request)
    except SubmissionRefused as refused:
        return refused.response({})
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=forms.preflight_headers(cors))


@router.post(
    "/{form_id}/submissions",
    name="submit_form",
    tags=["form submissions"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    responses=SUBMISSION_ANSWERS,
    openapi_extra={"requestBody": SUBMISSION_BODY},
)
async def submit_form(form_id: FormId, request: Request, runtime: RuntimeDep) -> Response:
    """Submit a form, no API key needed: URL-encoded, multipart or JSON fields."""
    form = await _form_in_own_transaction(runtime, form_id)
    cors: dict[str, str] = {}
    try:
        cors = forms.check_origin(form, request)
        forms.check_rate(request.app.state.submission_limits, form, request)
        fields = await forms.submitted_fields(request)
    except SubmissionRefused as refused:
        if refused.status != status.HTTP_403_FORBIDDEN and forms.wants_html(request):
            return _rejected(request, form, refused.problems, cors)
        return refused.response(cors)
    if forms.is_spam(form, fields):
        FORM_SPAM.labels(form.id).inc()
        return _accepted(request, form, LeadAccepted(lead_id=uuid.uuid4(), merged=False), cors)
    try:
        submission = forms.submission_from(
            form,
            fields,
            query=request.query_params,
            posted_from=request.headers.get("referer"),
            now=datetime.now(UTC),
        )
    except InvalidLead as invalid:
        return _rejected(request, form, invalid.problems, cors)
    captured = await capture_lead(runtime, submission)
    return _accepted(
        request, form, LeadAccepted(lead_id=captured.lead_id, merged=captured.merged), cors
    )


async def _form_in_own_transaction(runtime: Runtime, form_id: str) -> Form:
    # Read before the body, in a transaction of its own, so that a client uploading slowly
    # does not hold a database connection.
    async with runtime.sessions() as session:
        return await _form(session, form_id)


def _accepted(request: Request, form: Form, answer: LeadAccepted, cors: dict[str, str]) -> Response:
    if forms.wants_html(request):
        url = form.thank_you_url or request.url_for("form_thank_you", form_id=form.id).path
        return RedirectResponse(url, status.HTTP_303_SEE_OTHER, headers=cors)
    return JSONResponse(answer.model_dump(mode="json"), status.HTTP_202_ACCEPTED, headers=cors)


def _rejected(
    request: Request, form: Form, problems: list[FieldProblem], cors: dict[str, str]
) -> Response:
    if forms.wants_html(request):
        url = form.error_url or request.url_for("form_error", form_id=form.id).path
        return RedirectResponse(
            forms.with_errors(url, problems), status.HTTP_303_SEE_OTHER, headers=cors
        )
    return error_response(
        422,
        "the submission is invalid",
        [FieldError(field=p.field, reason=p.reason) for p in problems],
        cors,
    )


# ---- pages ------------------------------------------------------------------------------------


@router.get(
    "/{form_id}/page", tags=["form submissions"], response_class=HTMLResponse, responses=NOT_FOUND
)
async def form_page(form_id: FormId, request: Request, session: SessionDep) -> HTMLResponse:
    """A plain HTML page with the form, to try it or to link to."""
    form = await _form(session, form_id)
    return templates.TemplateResponse(
        request,
        "form.html",
        {
            "form": form,
            "inputs": forms.page_inputs(form),
            "consent": forms.form_field_name(form, "consent"),
            "hidden": forms.page_attribution(request),
            "action": request.url_for("submit_form", form_id=form.id).path,
        },
    )


@router.get(
    "/{form_id}/thank-you",
    name="form_thank_you",
    tags=["form submissions"],
    response_class=HTMLResponse,
    responses=NOT_FOUND,
)
async def thank_you_page(form_id: FormId, request: Request, session: SessionDep) -> HTMLResponse:
    """The page a browser lands on after a submission, unless the form names its own."""
    form = await _form(session, form_id)
    return templates.TemplateResponse(request, "thank_you.html", {"form": form})


@router.get(
    "/{form_id}/error",
    name="form_error",
    tags=["form submissions"],
    response_class=HTMLResponse,
    responses=NOT_FOUND,
)
async def error_page(form_id: FormId, request: Request, session: SessionDep) -> HTMLResponse:
    """The problems of a submission (`error=<field>:<reason>`), with a link back to the form."""
    form = await _form(session, form_id)
    referer = request.headers.get("referer", "")
    back = (
        referer
        if referer.startswith(("http://", "https://"))
        else (request.url_for("form_page", form_id=form.id).path)
    )
    labels = {field: label for field, (label, _, _) in PAGE_FIELDS.items()} | {"consent": "Consent"}
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "form": form,
            "errors": forms.errors_from(request.query_params.getlist("error")),
            "labels": labels,
            "back": back,
        },
    )
