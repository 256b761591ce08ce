"""Scoring models: drafts, approvals by marketing and sales, activation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.document import ScoringModel, parse_model
from services.scoring.domain.lifecycle import SIDES
from services.scoring.handlers.models import (
    ActivateModel,
    ApproveModel,
    CreateModel,
    EditModel,
    activate_model,
    approve_model,
    create_model,
    edit_model,
    state_of,
)
from services.scoring.schemas.models import (
    ApprovalOut,
    ChangeOut,
    ModelOut,
    ModelSummary,
    RescoringOut,
)
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.problems import NotFound, UnsupportedMediaType
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1/models", tags=["models"])

Editor = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales))]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 415, 422)
}
DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The model document, as YAML or JSON (see docs/scoring.md).",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": ScoringModel.model_json_schema()},
        },
    }
}


async def document(request: Request) -> ScoringModel:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", "application/yaml", "application/x-yaml", "text/yaml"):
        raise UnsupportedMediaType.of(
            "send the model as JSON or YAML",
            "content-type",
            "must be application/json or application/yaml",
        )
    return parse_model(await request.body(), fmt="json" if kind.endswith("json") else "yaml")


Document = Annotated[ScoringModel, Depends(document)]


@router.get("", responses=ERRORS)
async def list_models(session: SessionDep, _: Editor) -> list[ModelSummary]:
    """Every model version, newest first."""
    rows = await repo.model_rows(session)
    return [
        ModelSummary(
            version=r.version,
            status=r.status,
            missing_approvals=state_of(r).missing(),
            updated_at=r.updated_at,
        )
        for r in rows
    ]


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS, openapi_extra=DOCUMENT_BODY)
async def create(model: Document, uow: UowDep, who: Editor) -> ModelOut:
    """Create a draft; it needs a marketing and a sales approval before it can go live."""
    await create_model(CreateModel(model, who.name), uow)
    return await model_out(uow.session, model.version)


@router.get("/{version}", responses=ERRORS)
async def get_model(version: str, session: SessionDep, _: Editor) -> ModelOut:
    """One version: its document, approvals, history and, when active, rescoring progress."""
    return await model_out(session, version)


@router.put("/{version}", responses=ERRORS, openapi_extra=DOCUMENT_BODY)
async def edit(version: str, model: Document, uow: UowDep, who: Editor) -> ModelOut:
    """Replace a draft's document; its approvals are cleared."""
    await edit_model(EditModel(version, model, who.name), uow)
    return await model_out(uow.session, version)


@router.post("/{version}/approve", responses=ERRORS)
async def approve(version: str, uow: UowDep, who: Editor) -> ModelOut:
    """Approve this exact version for your side (a marketing or a sales key)."""
    await approve_model(ApproveModel(version, who.role.value, who.name), uow)
    return await model_out(uow.session, version)


@router.post("/{version}/activate", status_code=status.HTTP_202_ACCEPTED, responses=ERRORS)
async def activate(version: str, uow: UowDep, who: Editor) -> ModelOut:
    """Go live (both approvals needed); every lead is rescored in the background."""
    await activate_model(ActivateModel(version, who.name), uow)
    return await model_out(uow.session, version)


async def model_out(session: AsyncSession, version: str) -> ModelOut:
    row = await repo.model_row(session, version)
    if row is None:
        raise NotFound.of(f"no model {version}", "version", "is unknown")
    state = state_of(row)
    rescoring = None
    if row.status == "active":
        done, total = await repo.rescoring_progress(session, version)
        rescoring = RescoringOut(done=done, total=total, finished=done >= total)
    approvals = {
        side: ApprovalOut(by=a.by, at=a.at) if (a := state.approvals.get(side)) else None
        for side in SIDES
    }
    history = [
        ChangeOut(action=h.action, by=h.by, at=h.at) for h in await repo.history(session, version)
    ]
    return ModelOut(
        version=row.version,
        status=row.status,
        document=row.document,
        approvals=approvals,
        missing_approvals=state.missing(),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        activated_by=row.activated_by,
        activated_at=row.activated_at,
        retired_at=row.retired_at,
        history=history,
        rescoring=rescoring,
    )
