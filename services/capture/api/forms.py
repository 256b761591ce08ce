"""Web forms: the admin API that defines them, and the public endpoints browsers post to."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.capture import domain, handlers, origins, repository
from services.capture.api import answers, bodies, web
from services.capture.api.documented import JSON_BODY, KEYED, refusals
from services.capture.handlers import SaveForm, SubmitForm
from services.capture.models import Form
from services.capture.ratelimit import UnknownForms
from services.capture.schemas import FormIn, FormList, FormOut, LeadAccepted
from shared.auth import RoleRequired
from shared.errors import ErrorBody
from shared.problems import NotFound, ServiceError
from shared.service import SessionDep, UowDep

Responses = dict[int | str, dict[str, Any]]
router = APIRouter(prefix="/v1/forms")
templates = Jinja2Templates(directory=FilePath(__file__).parent.parent / "templates")

ADMIN = [Depends(RoleRequired())]
ADMIN_ERRORS: Responses = KEYED
NOT_FOUND: Responses = refusals(404)
# A page's own answer is HTML, its refusals the project's JSON error body: spelled out, since
# FastAPI would list a model under the route's HTML media type.
JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
PAGE_ERRORS: Responses = {
    404: {"description": "No such form.", "content": JSON_ERROR},
    422: {"description": "The form id cannot be one.", "content": JSON_ERROR},
}
FormId = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9-]{1,64}$",
        examples=["demo"],
        description="Lower-case letters, digits and hyphens.",
    ),
]


async def _form(session: SessionDep, form_id: FormId) -> Form:
    if (form := await repository.form_by_id(session, form_id)) is None:
        raise handlers.unknown_form(form_id)
    return form


KnownForm = Annotated[Form, Depends(_form)]


# ---- admin ------------------------------------------------------------------------------------


@router.put(
    "/{form_id}",
    tags=["forms"],
    dependencies=ADMIN,
    response_model=FormOut,
    responses={201: {"model": FormOut, "description": "Created."}, **ADMIN_ERRORS, **JSON_BODY},
)
async def put_form(
    form_id: FormId, definition: FormIn, uow: UowDep, request: Request, response: Response
) -> FormOut:
    """Create a form, or replace its whole definition (200 replaced, 201 created)."""
    form, created = await handlers.save_form(SaveForm(form_id, definition), uow)
    request.app.state.unknown_forms.forget(form_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return form


@router.get("", tags=["forms"], dependencies=ADMIN, responses=ADMIN_ERRORS)
async def list_forms(session: SessionDep) -> FormList:
    """Every form, by id."""
    return FormList(forms=[FormOut.model_validate(f) for f in await repository.all_forms(session)])


@router.get(
    "/{form_id}", tags=["forms"], dependencies=ADMIN, responses={**ADMIN_ERRORS, **NOT_FOUND}
)
async def get_form(form: KnownForm) -> FormOut:
    """One form's definition."""
    return FormOut.model_validate(form)


@router.delete(
    "/{form_id}",
    tags=["forms"],
    dependencies=ADMIN,
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ADMIN_ERRORS, **NOT_FOUND},
)
async def delete_form(form_id: FormId, uow: UowDep) -> None:
    """Delete a form; leads it captured stay."""
    await handlers.delete_form(form_id, uow)


# ---- submissions ------------------------------------------------------------------------------


async def form_to_submit(form_id: str, request: Request, uow: UowDep) -> Form:
    """The form, or 404; an id found missing moments ago is refused without a query, so a
    flood of posts to unknown forms does not reach the database."""
    unknown: UnknownForms = request.app.state.unknown_forms
    if unknown.missing(form_id):
        raise handlers.unknown_form(form_id)
    try:
        return await handlers.form_to_submit(form_id, uow)
    except NotFound:
        unknown.remember(form_id)
        raise


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
SUBMISSION_ANSWERS: Responses = {
    202: {"model": LeadAccepted, "description": "Captured (an API client)."},
    303: {
        "description": "A browser (Accept: text/html) goes to the thank-you page, or to the "
        "error page with `error=<field>:<reason>` per problem."
    },
    **{code: {"model": ErrorBody} for code in (400, 403, 404, 413, 415, 422, 429)},
    404: {
        "model": ErrorBody,
        "description": "No such form; a browser gets an HTML page.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}


@router.options(
    "/{form_id}/submissions",
    tags=["form submissions"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={code: {"model": ErrorBody} for code in (403, 404, 422)},
)
async def preflight(form_id: FormId, request: Request, uow: UowDep) -> Response:
    """Answer a browser's CORS preflight: allowed origins get the CORS headers, others 403."""
    form = await form_to_submit(form_id, request, uow)
    headers = web.preflight_headers(request, web.cors_headers(form, request))
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


@router.post(
    "/{form_id}/submissions",
    name="submit_form",
    tags=["form submissions"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    responses=SUBMISSION_ANSWERS,
    openapi_extra={"requestBody": SUBMISSION_BODY},
)
async def submit_form(
    form_id: FormId, request: Request, uow: UowDep, limits: web.SubmissionLimitsDep
) -> Response:
    """Submit a form, no API key needed: URL-encoded, multipart or JSON fields."""
    # The form is read in a statement of its own, before the body: no connection is held
    # while a client uploads slowly.
    form = await form_to_submit(form_id, request, uow)
    cors = web.cors_headers(form, request)
    try:
        web.check_rate(limits, form, request)
        fields = await bodies.submitted_fields(request)
        referer = request.headers.get("referer")
        answer = await handlers.submit_form(
            SubmitForm(form, fields, dict(request.query_params), referer), uow
        )
    except ServiceError as error:
        return answers.refused(request, form, error, cors)
    limits.accepted(web.client_ip(request), form.id)
    return answers.accepted(request, form, answer, cors)


# ---- pages ------------------------------------------------------------------------------------


@router.get(
    "/{form_id}/page", tags=["form submissions"], response_class=HTMLResponse, responses=PAGE_ERRORS
)
async def form_page(form: KnownForm, request: Request) -> HTMLResponse:
    """A plain HTML page with the form, to try it or to link to."""
    return templates.TemplateResponse(
        request,
        "form.html",
        {
            "form": form,
            "inputs": web.page_inputs(form),
            "consent": domain.form_field_name(form, "consent"),
            "hidden": web.page_attribution(request),
            "action": request.url_for("submit_form", form_id=form.id).path,
        },
    )


@router.get(
    "/{form_id}/thank-you",
    name="form_thank_you",
    tags=["form submissions"],
    response_class=HTMLResponse,
    responses=PAGE_ERRORS,
)
async def thank_you_page(form: KnownForm, request: Request) -> HTMLResponse:
    """The page a browser lands on after a submission, unless the form names its own."""
    return templates.TemplateResponse(request, "thank_you.html", {"form": form})


@router.get(
    "/{form_id}/error",
    name="form_error",
    tags=["form submissions"],
    response_class=HTMLResponse,
    responses=PAGE_ERRORS,
)
async def error_page(form: KnownForm, request: Request) -> HTMLResponse:
    """The problems of a submission (`error=<field>:<reason>`), with a link back to the form."""
    back = origins.back_link(form.allowed_origins, request.headers.get("referer")) or (
        request.url_for("form_page", form_id=form.id).path
    )
    labels = {field: label for field, (label, _, _) in web.PAGE_FIELDS.items()} | {
        "consent": "Consent"
    }
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "form": form,
            "errors": answers.errors_from(
                request.query_params.getlist("error"),
                request.query_params.get("sig"),
                key=answers.error_page_key(request),
            ),
            "labels": labels,
            "back": back,
        },
    )
