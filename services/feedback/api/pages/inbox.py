"""`/inbox`: a rep's open leads, and their verdicts given by clicking.

A verdict from the page goes through the same use case, and so the same rules, as
`POST /v1/feedback` with the rep's sales key: the page adds only the session and the CSRF check.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from services.feedback import repository
from services.feedback.api.pages.present import explanation, time_left
from services.feedback.api.pages.session import VisitDep, form_fields
from services.feedback.domain.stages import OPEN_DEAL, Stage, allowed_verdicts
from services.feedback.handlers.verdicts import GiveVerdict, give_verdict
from services.feedback.schemas import VerdictIn
from shared.auth import Role
from shared.errors import field_path
from shared.events import ReasonCode, Verdict
from shared.problems import ServiceError
from shared.service import SessionDep, UowDep

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
OPEN = [Stage.assigned.value, *(stage.value for stage in OPEN_DEAL)]
ACTIONS = {  # verdict -> (button, what the form asks for)
    Verdict.accepted: ("Accept", ()),
    Verdict.rejected: ("Reject", ("reason", "note")),
    Verdict.recycled: ("Recycle", ("reason", "note")),
    Verdict.converted: ("Converted", ()),
    Verdict.won: ("Won", ("value", "note")),
    Verdict.lost: ("Lost", ("reason", "note")),
}
REASONS = [(code.value, code.value.replace("_", " ").capitalize()) for code in ReasonCode]


def _rep_of(visit: VisitDep) -> str | None:
    principal = visit.principal
    return principal.rep_id if principal and principal.role is Role.sales else None


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(visit: VisitDep, session: SessionDep) -> Response:
    if visit.principal is None:
        return visit.sign_in_first()
    rep = _rep_of(visit)
    if rep is None:
        return visit.refuse(403, "The inbox is a rep's", "Sign in with your own sales key.")
    rows = await repository.rep_leads(session, rep, OPEN)
    scores = await repository.latest_scores(session, [row.lead_id for row in rows])
    now = datetime.now(UTC)
    leads = [_card(row, scores.get(row.lead_id), now) for row in rows]
    done = visit.request.query_params.get("done")
    done = done if done in {verdict.value for verdict in Verdict} else None  # no made-up text
    return visit.render(
        "inbox.html", rep=rep, leads=leads, reasons=REASONS, actions=ACTIONS, done=done
    )


def _card(row: Any, scored: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    left, overdue = time_left(row.sla_due, now)
    name = " ".join(part for part in (row.first_name, row.last_name) if part)
    return {
        "id": row.lead_id,
        "name": name or row.email or "(no name)",
        "row": row,
        "why": explanation(scored),
        "due": row.sla_due,
        "left": left,
        "overdue": overdue,
        "verdicts": allowed_verdicts(Stage(row.stage)),
    }


@router.post("/inbox/verdict", response_class=HTMLResponse)
async def verdict(request: Request, visit: VisitDep, uow: UowDep) -> Response:
    fields = await form_fields(request)
    if not visit.csrf_ok(fields):
        return visit.csrf_refused()
    if visit.principal is None:
        return visit.sign_in_first()
    rep = _rep_of(visit)
    if rep is None:
        return visit.refuse(403, "The inbox is a rep's", "Sign in with your own sales key.")
    try:
        given = VerdictIn.model_validate(
            {name: value for name, value in _verdict_fields(fields).items() if value}
        )
    except ValidationError as error:
        reasons = "; ".join(
            f"{field_path(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
        )
        return visit.refuse(422, "The verdict is incomplete", reasons)
    try:
        await give_verdict(
            GiveVerdict(
                lead_id=given.lead_id,
                verdict=given.verdict,
                reason_code=given.reason_code,
                note=given.note,
                quality_rating=given.quality_rating,
                deal_value=given.deal_value,
                currency=given.currency,
                role=Role.sales.value,
                key_rep_id=rep,
                key_name=visit.principal.name,
            ),
            uow,
        )
    except ServiceError as error:
        await uow.end(commit=False)
        reasons = "; ".join(f"{p.field}: {p.reason}" for p in error.problems)
        return visit.refuse(error.status, error.detail.capitalize(), reasons)
    log.info("verdict given on the inbox page", extra={"lead_id": str(given.lead_id)})
    return visit.redirect(f"/inbox?done={given.verdict.value}")


def _verdict_fields(fields: dict[str, str]) -> dict[str, str]:
    wanted = ("lead_id", "verdict", "reason_code", "note", "quality_rating", "deal_value")
    chosen = {name: fields.get(name, "").strip() for name in wanted}
    if chosen["deal_value"]:
        chosen["currency"] = fields.get("currency", "").strip()
    return chosen
