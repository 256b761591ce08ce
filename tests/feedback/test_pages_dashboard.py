"""The dashboard page: the reports for a range of days, each table as CSV."""

from __future__ import annotations

from datetime import UTC, timedelta

import httpx
import pytest

from tests.feedback.conftest import T0, Journey, Publish, capacity
from tests.feedback.pages_helpers import sign_in
from tests.helpers import wait_for


@pytest.mark.asyncio
async def test_the_dashboard_shows_the_reports_and_each_table_downloads_as_csv(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str]
) -> None:
    lead = Journey()
    await publish(
        lead.captured(T0, campaign="spring"),
        lead.scored(T0 + timedelta(minutes=1), threshold=55),
        lead.mql(T0 + timedelta(minutes=1), threshold=55),
        lead.assigned(T0 + timedelta(minutes=2)),
        capacity(T0 + timedelta(minutes=3), total=12, queue=3),
    )
    await sign_in(feedback, api_keys["sales"])
    day = T0.date().isoformat()

    flow_row = f'<th scope="row">{day}</th><td>1</td><td>12</td>\n        <td>55'
    campaign_row = '<th scope="row">spring</th><td>1</td>'  # only lead.captured.v1 names it

    async def counted() -> httpx.Response | None:
        # The events travel on five topics and arrive in any order: wait for all of them (the
        # funnel and the flow rows count the lead from its MQL, before its capture may be in).
        page = await feedback.get("/dashboard", params={"from": day, "to": day})
        parts = ("Queue now: <strong>3</strong>", "lead 1, mql 1, sql 1", flow_row, campaign_row)
        return page if all(part in page.text for part in parts) else None

    page = await wait_for(counted, message="the dashboard counts the lead")
    assert page.status_code == 200
    assert campaign_row in page.text and flow_row in page.text
    csv = await feedback.get("/dashboard/campaigns.csv", params={"from": day, "to": day})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    header, row = csv.text.splitlines()[:2]
    assert header.startswith("utm_campaign,leads,judged") and row.startswith("spring,1,0")
    bad = await feedback.get("/dashboard", params={"from": day, "to": "2020-01-01"})
    assert bad.status_code == 200 and "first day is after the last" in bad.text
    assert (await feedback.get("/dashboard/nope.csv")).status_code == 422
    assert T0.tzinfo is UTC
