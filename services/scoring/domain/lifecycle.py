"""A model's lifecycle: draft -> approved -> active -> retired, and who approved what.

Marketing and sales must both approve the exact version before it can go live; each side's approval
is recorded with who and when. Editing a draft (or an approved model) clears its approvals. Only an
approved model can be activated; the active one it replaces is retired.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.problems import Conflict, Forbidden, Problem

SIDES = ("marketing", "sales")


@dataclass(frozen=True)
class Approval:
    by: str
    at: datetime


@dataclass(frozen=True)
class ModelState:
    version: str
    status: str = "draft"
    approvals: dict[str, Approval] = field(default_factory=dict)

    def missing(self) -> list[str]:
        return [side for side in SIDES if side not in self.approvals]


def edit(model: ModelState) -> ModelState:
    if model.status not in ("draft", "approved"):
        raise Conflict.of(
            f"model {model.version} is {model.status}; only drafts can be edited",
            "status",
            f"is {model.status}; create a new version instead",
        )
    return replace(model, status="draft", approvals={})


def approve(model: ModelState, side: str, by: str, at: datetime) -> ModelState:
    if side not in SIDES:
        raise Forbidden.of(
            "a model is approved by a marketing key and a sales key",
            "role",
            f"{side} cannot approve; marketing and sales approve for themselves",
        )
    if model.status not in ("draft", "approved"):
        raise Conflict.of(
            f"model {model.version} is {model.status}", "status", "only drafts can be approved"
        )
    approvals = {**model.approvals, side: Approval(by, at)}
    status = "approved" if all(s in approvals for s in SIDES) else "draft"
    return replace(model, status=status, approvals=approvals)


def activate(model: ModelState) -> ModelState:
    if model.status == "active":
        return model
    missing = model.missing()
    if model.status != "approved" or missing:
        if missing:
            detail = " and ".join(f"the {side} approval" for side in missing)
            problems = [
                Problem(f"approvals.{side}", f"missing the {side} approval") for side in missing
            ]
        else:
            detail = f"an approved status (it is {model.status})"
            problems = [Problem("status", f"is {model.status}")]
        raise Conflict(f"model {model.version} cannot be activated: it needs {detail}", problems)
    return replace(model, status="active")


def retire(model: ModelState) -> ModelState:
    return replace(model, status="retired")
