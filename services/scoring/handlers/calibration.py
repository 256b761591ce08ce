"""Calibration and proposals: what sales' verdicts say about each rule of a model, and the
proposed points made into a new draft, which still needs both approvals. The decisions are in
`domain.calibration`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.calibration import Calibration, calibrate, points_per_logit
from services.scoring.domain.document import ScoringModel, model_from_data
from services.scoring.handlers.models import CreateModel, create_model, load_model
from shared.problems import Conflict, Invalid, Problem
from shared.uow import UnitOfWork


async def calibration(session: AsyncSession, version: str) -> Calibration:
    model = await load_model(session, version)
    rules: dict[str, tuple[int, int]] = {r.id: (r.points, -1000) for r in model.fit_rules}
    rules |= {r.id: (r.points, 1) for r in model.engagement_rules}
    scale = points_per_logit(model.threshold.floor, model.threshold.ceiling)
    return calibrate(
        rules, await repo.outcomes_of(session, version), datetime.now(UTC), scale=scale
    )


@dataclass(frozen=True)
class Propose:
    version: str
    new_version: str | None
    rules: list[str] | None  # None: every rule with a proposal
    by: str


async def propose(command: Propose, uow: UnitOfWork) -> str:
    """The proposals become a new draft, which still needs both approvals."""
    found = await calibration(uow.session, command.version)
    proposed = {r.rule: r.proposed_points for r in found.rules if r.proposed_points is not None}
    if command.rules is not None:
        known = {r.rule: r for r in found.rules}
        problems = [
            Problem(
                f"rules.{i}",
                "is not a rule of this model"
                if rule not in known
                else f"has no proposal: {known[rule].note}",
            )
            for i, rule in enumerate(command.rules)
            if rule not in proposed
        ]
        if problems:
            raise Invalid("some chosen rules have no proposal", problems)
        proposed = {rule: proposed[rule] for rule in command.rules}
    if not proposed:
        raise Conflict.of(
            f"model {command.version} has no proposals",
            "rules",
            "no rule has enough evidence against its current points",
        )
    model = await load_model(uow.session, command.version)
    new_version = command.new_version or f"{command.version[:50]}-p{uuid.uuid4().hex[:6]}"
    await create_model(CreateModel(apply(model, proposed, new_version), command.by), uow)
    await repo.record_history(
        uow.session, new_version, f"proposed-from:{command.version}"[:32], command.by
    )
    return new_version


def apply(model: ScoringModel, points: dict[str, int], version: str) -> ScoringModel:
    data: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    data["version"] = version
    for rule in [*data["fit_rules"], *data["engagement_rules"]]:
        if rule["id"] in points:
            rule["points"] = points[rule["id"]]
            if "cap" in rule:
                rule["cap"] = max(rule["cap"], rule["points"])
    return model_from_data(data)
