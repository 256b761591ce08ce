"""`/models`: the active scoring model and SQL criteria in words, drafts awaiting approval, an
approve button for each side, and the MQL threshold in force and why.

Feedback does not read scoring's or routing's tables: the page asks their HTTP APIs, with the
signed-in person's own key, so an approval is theirs and follows the owning service's rules.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.feedback.api.pages.sentences import criteria_lines, model_lines
from services.feedback.api.pages.session import Visit, VisitDep, form_fields
from shared.auth import Role

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
TIMEOUT_S = 5.0
READERS = (Role.marketing, Role.sales)
SIDES = (Role.marketing, Role.sales)  # who approves a model or criteria


class Upstream(BaseSettings):
    """Where scoring and routing answer (`handoff up`'s ports by default)."""

    model_config = SettingsConfigDict(env_prefix="HANDOFF_", extra="ignore")
    scoring_url: str = "http://127.0.0.1:8002"
    routing_url: str = "http://127.0.0.1:8003"


def _upstream(request: Request) -> Upstream:
    found = getattr(request.app.state, "pages_upstream", None)
    return found if isinstance(found, Upstream) else Upstream()


class Unreachable(Exception):
    pass


async def _get(client: httpx.AsyncClient, url: str) -> Any:
    try:
        answer = await client.get(url)
    except httpx.HTTPError as error:
        raise Unreachable(f"{url} did not answer ({type(error).__name__})") from None
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise Unreachable(f"{url} answered {answer.status_code}")
    return answer.json()


def _client(visit: Visit) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        headers={"Authorization": f"Bearer {visit.key}"}, timeout=TIMEOUT_S, follow_redirects=False
    )


def _refused(visit: Visit) -> Response | None:
    if visit.principal is None or visit.key is None:
        return visit.sign_in_first()
    if not visit.may(*READERS):
        return visit.refuse(403, "Not for this key", "Models are for marketing and sales keys.")
    return None


@router.get("/models", response_class=HTMLResponse)
async def models(visit: VisitDep) -> Response:
    if (refusal := _refused(visit)) is not None:
        return refusal
    up = _upstream(visit.request)
    scoring: dict[str, Any] = {"error": None, "active": None, "drafts": [], "threshold": None}
    routing: dict[str, Any] = {"error": None, "active": None, "drafts": []}
    async with _client(visit) as client:
        try:
            listed = await _get(client, f"{up.scoring_url}/v1/models") or []
            for summary in listed:
                if summary["status"] in {"active", "draft", "approved"}:
                    model = await _get(client, f"{up.scoring_url}/v1/models/{summary['version']}")
                    if model is None:
                        continue
                    model["lines"] = model_lines(model["document"])
                    if model["status"] == "active":
                        scoring["active"] = model
                    else:
                        scoring["drafts"].append(model)
            scoring["threshold"] = await _get(client, f"{up.scoring_url}/v1/threshold")
        except Unreachable as error:
            log.warning("models page: scoring: %s", error)
            scoring["error"] = "Scoring is not answering just now; try again in a moment."
        try:
            for criteria in await _get(client, f"{up.routing_url}/v1/criteria") or []:
                criteria["lines"] = criteria_lines(criteria["rules"])
                if criteria["status"] == "active":
                    routing["active"] = criteria
                elif criteria["status"] == "draft":
                    routing["drafts"].append(criteria)
        except Unreachable as error:
            log.warning("models page: routing: %s", error)
            routing["error"] = "Routing is not answering just now; try again in a moment."
    side = visit.principal.role.value if visit.principal and visit.principal.role in SIDES else None
    approved = visit.request.query_params.get("approved", "")
    done = approved if re.fullmatch(r"(scoring|criteria)-[A-Za-z0-9._-]{1,100}", approved) else None
    return visit.render("models.html", scoring=scoring, routing=routing, side=side, done=done)


@router.post("/models/{kind}/{version}/approve", response_class=HTMLResponse)
async def approve(
    request: Request,
    visit: VisitDep,
    kind: Annotated[str, Path(pattern="^(scoring|criteria)$")],
    version: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9._-]+$")],
) -> Response:
    if not visit.csrf_ok(await form_fields(request)):
        return visit.csrf_refused()
    if (refusal := _refused(visit)) is not None:
        return refusal
    up = _upstream(request)
    url = (
        f"{up.scoring_url}/v1/models/{version}/approve"
        if kind == "scoring"
        else f"{up.routing_url}/v1/criteria/{version}/approvals"
    )
    async with _client(visit) as client:
        try:
            answer = await client.post(url)
        except httpx.HTTPError as error:
            log.warning("models page: approving at %s: %s", url, error)
            return visit.refuse(503, "Not approved", "The service did not answer; try again.")
    if answer.status_code >= 300:
        try:
            body = answer.json()
            reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in body.get("errors", []))
            reason = f"{body.get('detail', '')}{'. ' + reasons if reasons else ''}"
        except (ValueError, KeyError, TypeError, AttributeError):
            reason = f"the service answered {answer.status_code}"
        status = answer.status_code if 400 <= answer.status_code < 500 else 502
        return visit.refuse(status, "Not approved", reason)
    return visit.redirect(f"/models?approved={kind}-{version}")
