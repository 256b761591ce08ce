"""The reports as CSV when asked, by Accept header or by format, the story's numbers."""

from __future__ import annotations

import httpx
import pytest

from tests.feedback.conftest import Journey, Publish
from tests.feedback.reports_helpers import RANGE, consumed, load
from tests.helpers import auth

pytestmark = pytest.mark.asyncio


async def test_reports_come_as_csv_when_asked(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], leads: list[Journey]
) -> None:
    key = api_keys["sales"]
    await load(publish, leads)

    await consumed(feedback, key, leads)
    answer = await feedback.get(
        "/v1/reports/funnel",
        params=RANGE | {"group_by": "utm_campaign"},
        headers=auth(key) | {"Accept": "text/csv"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text == (
        "utm_campaign,lead,mql,sql,accepted,opportunity,won,returned,queued,rejected,recycled,"
        "lost,lead_to_mql,mql_to_sql,sql_to_accepted,accepted_to_opportunity,opportunity_to_won,"
        "lead_to_won\r\n"
        "autumn,2,2,1,0,0,0,1,1,0,0,0,1.0,0.5,0.0,,,0.0\r\n"
        "spring,4,3,3,0,0,0,0,0,0,0,0,0.75,1.0,0.0,,,0.0\r\n"
    )
    capacity_csv = await feedback.get(
        "/v1/reports/capacity", params=RANGE | {"format": "csv"}, headers=auth(key)
    )
    assert capacity_csv.text.splitlines() == [
        "day,mqls,capacity,mqls_per_capacity,queue_length,free_slots,queue_max,"
        "threshold.min,threshold.max,threshold.last",
        "2026-03-02,3,10,0.3,1,2,1,60,65,65",
        "2026-03-03,2,17,0.1176,3,5,3,60,65,60",
    ]
