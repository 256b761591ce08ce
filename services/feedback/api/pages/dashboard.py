"""`/dashboard`: the closed-loop reports for both teams, as charts and tables, each table also
as CSV. The numbers are the report API's (`GET /v1/reports/...`), read in-process."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from services.feedback import reports
from services.feedback.api.pages.charts import Plot, funnel_bars, plot
from services.feedback.api.pages.session import Visit, VisitDep
from services.feedback.domain.aggregates import SPANS
from services.feedback.domain.facts import FUNNEL
from services.feedback.domain.reports import to_csv
from shared.auth import Role
from shared.service import SessionDep

router = APIRouter(include_in_schema=False)
READERS = (Role.marketing, Role.sales)
DEFAULT_DAYS = 30
MAX_DAYS = 366
Table = Literal["funnel", "campaigns", "reasons", "speed", "capacity"]
From = Annotated[str | None, Query(alias="from", max_length=10)]
To = Annotated[str | None, Query(alias="to", max_length=10)]


def _range(since: str | None, until: str | None) -> tuple[date, date, str | None]:
    """The chosen days, or the last 30, and what was wrong with the choice if anything."""
    today = datetime.now(UTC).date()
    try:
        last = date.fromisoformat(until) if until else today
        first = date.fromisoformat(since) if since else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        return today - timedelta(days=DEFAULT_DAYS - 1), today, "Dates are written YYYY-MM-DD."
    if first > last:
        return last, last, "The first day is after the last; showing the last day only."
    if (last - first).days >= MAX_DAYS:
        return last - timedelta(days=MAX_DAYS - 1), last, f"At most {MAX_DAYS} days at once."
    return first, last, None


async def _tables(session: SessionDep, first: date, last: date) -> dict[str, list[dict[str, Any]]]:
    funnel = await reports.funnel(session, first, last, None)
    overall = await reports.quality(session, first, last, None)
    reasons = [
        {"verdict": verdict, "reason": reason, "leads": count}
        for row in overall
        for verdict, counted in sorted(row["reasons"].items())
        for reason, count in sorted(counted.items(), key=lambda item: -item[1])
    ]
    return {
        "funnel": funnel,
        "campaigns": await reports.quality(session, first, last, "utm_campaign"),
        "reasons": reasons,
        "speed": await reports.speed(session, first, last, None),
        "capacity": await reports.capacity(session, first, last, None),
    }


def _refused(visit: Visit) -> Response | None:
    if visit.principal is None:
        return visit.sign_in_first()
    if not visit.may(*READERS):
        return visit.refuse(
            403, "Not for this key", "The dashboard is for marketing, sales and admin keys."
        )
    return None


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    visit: VisitDep, session: SessionDep, since: From = None, until: To = None
) -> Response:
    if (refusal := _refused(visit)) is not None:
        return refusal
    first, last, problem = _range(since, until)
    tables = await _tables(session, first, last)
    funnel = tables["funnel"][0] if tables["funnel"] else {}
    days = tables["capacity"]
    flow = _flow(first, last, days)
    queue = next((d["queue_length"] for d in reversed(days) if d["queue_length"] is not None), None)
    return visit.render(
        "dashboard.html",
        first=first,
        last=last,
        problem=problem,
        tables=tables,
        bars=funnel_bars(funnel, [step.value for step in FUNNEL]),
        funnel=funnel,
        flow=flow,
        queue=queue,
        spans=SPANS,
        query=f"from={first.isoformat()}&to={last.isoformat()}",
    )


def _flow(first: date, last: date, days: list[dict[str, Any]]) -> Plot:
    """Every day of the range on the x axis: a day without MQLs is 0, without capacity a gap."""
    by_day = {day["day"]: day for day in days}
    every = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    known = [by_day.get(day) for day in every]
    return plot(
        every,
        {
            "mqls": [day["mqls"] if day else 0 for day in known],
            "capacity": [day["capacity"] if day else None for day in known],
            "threshold": [day["threshold"]["last"] if day else None for day in known],
        },
    )


@router.get("/dashboard/{table}.csv")
async def table_csv(
    table: Table,
    visit: VisitDep,
    session: SessionDep,
    since: From = None,
    until: To = None,
) -> Response:
    if (refusal := _refused(visit)) is not None:
        return refusal
    first, last, _ = _range(since, until)
    rows = (await _tables(session, first, last))[table]
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{table}_{first}_{last}.csv"',
            "Cache-Control": "no-store",
        },
    )
