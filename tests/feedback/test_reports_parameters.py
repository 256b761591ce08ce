"""The reports' parameters checked: each bad one a 422 naming its field; a key required."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import auth

pytestmark = pytest.mark.asyncio


async def test_report_parameters_are_checked(
    feedback: httpx.AsyncClient, api_keys: dict[str, str]
) -> None:
    key = api_keys["marketing"]

    async def problem(name: str, **query: str) -> tuple[int, str]:
        answer = await feedback.get(f"/v1/reports/{name}", params=query, headers=auth(key))
        return answer.status_code, answer.json()["errors"][0]["field"]

    assert await problem("funnel", group_by="colour") == (422, "group_by")
    assert await problem("funnel", **{"from": "2026-03-05", "to": "2026-03-01"}) == (422, "from")
    assert await problem("funnel", **{"from": "yesterday"}) == (422, "from")
    assert await problem("capacity", group_by="rep") == (422, "group_by")
    assert await problem("funnel", format="xml") == (422, "format")
    assert (await feedback.get("/v1/reports/mood", headers=auth(key))).status_code == 422
    empty = await feedback.get("/v1/reports/quality", headers=auth(key))
    assert empty.status_code == 200 and empty.json()["rows"][0]["leads"] == 0
    assert (await feedback.get("/v1/reports/funnel")).status_code == 401
