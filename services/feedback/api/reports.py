"""Closed-loop reports: `GET /v1/reports/{funnel|quality|speed|capacity}`, JSON or CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from services.feedback import reports
from services.feedback.domain.reports import FUNNEL_GROUPS, to_csv
from services.feedback.schemas import ReportOut
from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody
from shared.problems import Invalid
from shared.service import SessionDep

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Reader = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales, Role.crm))]
DEFAULT_DAYS = 30
MAX_DAYS = 3660


class Report(StrEnum):
    funnel = "funnel"
    quality = "quality"
    speed = "speed"
    capacity = "capacity"


GroupBy = StrEnum("GroupBy", {name: name for name in FUNNEL_GROUPS})  # type: ignore[misc]
CAPACITY_GROUPS = {"team"}


@router.get(
    "/{report}",
    response_model=ReportOut,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV when asked for."},
        **{code: {"model": ErrorBody} for code in (401, 403, 422)},
    },
)
async def get_report(
    report: Report,
    session: SessionDep,
    _: Reader,
    since: Annotated[date | None, Query(alias="from", description="First day (UTC)")] = None,
    until: Annotated[
        date | None, Query(alias="to", description="Last day (UTC), inclusive")
    ] = None,
    group_by: GroupBy | None = None,
    format: Literal["json", "csv"] | None = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response | ReportOut:
    """A report over the leads captured from `from` to `to` (default: the last 30 days)."""
    until = until or datetime.now(UTC).date()
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise Invalid.of("the date range is empty", "from", "must not be after `to`")
    if (until - since).days >= MAX_DAYS:
        raise Invalid.of("the date range is too long", "from", f"at most {MAX_DAYS} days")
    group = group_by.value if group_by else None
    if report is Report.capacity and group not in {None, *CAPACITY_GROUPS}:
        raise Invalid.of("capacity is reported per day", "group_by", "only `team` or none")
    rows = await reports.REPORTS[report.value](session, since, until, group)
    if format == "csv" or (format is None and "text/csv" in (accept or "")):
        filename = f"{report.value}_{since.isoformat()}_{until.isoformat()}.csv"
        return Response(
            to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return ReportOut(report=report.value, since=since, until=until, group_by=group, rows=rows)
