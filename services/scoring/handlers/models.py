"""The model commands: create, edit, approve, activate. Each change records who and when. And
`load_model`, a stored model by its version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain import lifecycle
from services.scoring.domain.document import ScoringModel, model_from_data
from services.scoring.domain.lifecycle import Approval, ModelState
from shared.problems import Conflict, Invalid, NotFound
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class CreateModel:
    model: ScoringModel
    by: str


@dataclass(frozen=True)
class EditModel:
    version: str
    model: ScoringModel
    by: str


@dataclass(frozen=True)
class ApproveModel:
    version: str
    side: str  # the approving key's role
    by: str


@dataclass(frozen=True)
class ActivateModel:
    version: str
    by: str


async def create_model(command: CreateModel, uow: UnitOfWork) -> None:
    version = command.model.version
    if not await repo.add_model(uow.session, version, _document(command.model), command.by):
        raise Conflict.of(
            f"model {version} exists; edit it or choose a new version",
            "version",
            "is taken",
        )
    await repo.record_history(uow.session, version, "created", command.by)


async def edit_model(command: EditModel, uow: UnitOfWork) -> None:
    if command.model.version != command.version:
        raise Invalid.of(
            "the document's version must match the address",
            "version",
            f"must be {command.version}",
        )
    state = lifecycle.edit(await _state(uow, command.version))
    await repo.change_model(
        uow.session,
        command.version,
        document=_document(command.model),
        status=state.status,
        updated_by=command.by,
        updated_at=_now(),
        **_approvals(state),
    )
    await repo.record_history(uow.session, command.version, "edited", command.by)


async def approve_model(command: ApproveModel, uow: UnitOfWork) -> None:
    before = await _state(uow, command.version)
    state = lifecycle.approve(before, command.side, command.by, _now())
    await repo.change_model(uow.session, command.version, status=state.status, **_approvals(state))
    await repo.record_history(uow.session, command.version, f"approved:{command.side}", command.by)


async def activate_model(command: ActivateModel, uow: UnitOfWork) -> None:
    """Goes live now; the rescoring job rescores every lead in the background."""
    before = await _state(uow, command.version)
    state = lifecycle.activate(before)
    if before.status == "active":
        return
    now = _now()
    retired = await repo.retire_active(uow.session, now)
    if retired is not None:
        await repo.record_history(uow.session, retired, "retired", command.by)
    await repo.change_model(
        uow.session, command.version, status=state.status, activated_by=command.by, activated_at=now
    )
    await repo.record_history(uow.session, command.version, "activated", command.by)
    repo.forget_active_model()  # this instance sees it at once; others within a second


async def load_model(session: AsyncSession, version: str) -> ScoringModel:
    row = await repo.model_row(session, version)
    if row is None:
        raise NotFound.of(f"no model {version}", "version", "is unknown")
    return model_from_data(row.document)


async def _state(uow: UnitOfWork, version: str) -> ModelState:
    row = await repo.model_row(uow.session, version, lock=True)
    if row is None:
        raise NotFound.of(f"no model {version}", "version", "is unknown")
    return state_of(row)


def state_of(row: Row[Any]) -> ModelState:
    approvals = {}
    for side in lifecycle.SIDES:
        by, at = getattr(row, f"{side}_approved_by"), getattr(row, f"{side}_approved_at")
        if by is not None:
            approvals[side] = Approval(by, at)
    return ModelState(row.version, row.status, approvals)


def _approvals(state: ModelState) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for side in lifecycle.SIDES:
        approval = state.approvals.get(side)
        values[f"{side}_approved_by"] = approval.by if approval else None
        values[f"{side}_approved_at"] = approval.at if approval else None
    return values


def _document(model: ScoringModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _now() -> datetime:
    return datetime.now(UTC)
