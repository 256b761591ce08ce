"""Reps: who takes leads, when, where and how many; the organisation import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from services.routing.admin import import_org
from services.routing.api.deps import ERRORS, Admin, Reader
from services.routing.domain.eligibility import on_duty
from services.routing.importing import parse_org
from services.routing.repository import Repository, to_rep
from services.routing.schemas.org import Imported, OrgIn
from services.routing.schemas.reps import RepIn, RepOut
from shared.problems import Invalid, UnsupportedMediaType
from shared.service import SessionDep, UowDep

router = APIRouter(prefix="/v1/reps", tags=["reps"], responses=ERRORS)

KINDS = {
    "text/csv": "csv",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
}


def rep_out(row: Any, now: datetime) -> RepOut:
    fields = {name: getattr(row, name) for name in RepIn.model_fields if name not in ("team",)}
    fields["out_of_office"] = [{"start": a, "end": b} for a, b in row.out_of_office]
    return RepOut(
        **fields,
        team=row.team_id,
        open_load=row.open_load,
        assigned_today=row.assigned_today
        if row.assigned_day == to_rep(row).hours.local_date(now)
        else 0,
        on_duty=on_duty(to_rep(row), now),
        share=row.share,
    )


@router.get("")
async def list_reps(session: SessionDep, _: Reader, team_id: str | None = None) -> list[RepOut]:
    """Every rep with their open load and whether they are on duty now."""
    now = datetime.now(UTC)
    return [rep_out(r, now) for r in await Repository(session).rep_rows(team_id)]


@router.put("/{rep_id}")
async def put_rep(rep_id: str, rep: RepIn, uow: UowDep, _: Admin) -> RepIn:
    """Add or change a rep (admin); their open load is kept."""
    if rep.id != rep_id:
        raise Invalid.of("the path and the body disagree", "id", f"must be {rep_id!r}")
    await import_org(OrgIn(reps=[rep]), uow)
    return rep


async def org_file(request: Request) -> OrgIn:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            return OrgIn.model_validate_json(await request.body())
        except ValueError as error:
            raise Invalid.of("the body is not an organisation", "body", str(error)[:500]) from None
    if kind not in KINDS:
        raise UnsupportedMediaType.of(
            "send the organisation as CSV, YAML or JSON",
            "content-type",
            "must be text/csv, application/yaml or application/json",
        )
    try:
        content = (await request.body()).decode()
    except UnicodeDecodeError:
        raise Invalid.of("the file is not UTF-8", "body", "must be UTF-8 text") from None
    return parse_org(content, KINDS[kind])


@router.post(
    "/import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": OrgIn.model_json_schema()},
            },
        }
    },
)
async def import_reps(org: Annotated[OrgIn, Depends(org_file)], uow: UowDep, _: Admin) -> Imported:
    """Teams, reps and rules from a CSV or YAML file, all or nothing (admin); errors name the
    line and field."""
    return await import_org(org, uow)
