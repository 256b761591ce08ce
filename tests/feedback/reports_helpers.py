"""The known set of events the report tests work from, and what reads the reports back.

Cohort days: 2026-03-02 (D1) and 2026-03-03 (D2). Six leads:

- L1: D1 09:00 ads/spring; MQL 09:10 (m1, 60); 09:30 rep-1 (SLA met); accepted rated 4,
  converted, won 1000 EUR.
- L2: D1 10:00 ads/spring; MQL 10:20 (m1, 60); 11:00 rep-2 due in 4 h; rejected no_budget rated 2
  (late: SLA missed).
- L3: D1 11:00 web/autumn; MQL 11:30 (m2, 65); returned 11:31.
- L4: D2 09:00 web/autumn; MQL 09:40 (m2, 65); queued 09:41 for emea.
- L5: D2 10:00 ads/spring; scored 10:05 (m1, threshold 62), no MQL.
- L6: D2 12:00 ads/spring; MQL 12:05 (m1, 60); 12:15 rep-1 (SLA met); accepted rated 5, lost
  to a competitor.

Capacity (emea): D1 10:00 10 total/4 free/0 queued, D1 15:00 10/2/1 (sent first: the later
report wins anyway); D2 09:00 12/0/3. (apac): D2 09:00 5/5/0.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.feedback.conftest import T0, Journey, Publish, capacity
from tests.helpers import auth, wait_for

D1, D2 = T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1)
RANGE = {"from": "2026-03-02", "to": "2026-03-03"}
YEAR = timedelta(days=365)  # due after the test's verdicts, whenever it runs: the SLA is met


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


async def load(publish: Publish, leads: list[Journey]) -> None:
    l1, l2, l3, l4, l5, l6 = leads
    first = l1.captured(at(D1, 9))
    await publish(
        first,
        first,  # delivered twice: handled once (its event id)
        l1.mql(at(D1, 9, 10)),
        l1.assigned(at(D1, 9, 30), rep="rep-1", due=YEAR),
        l2.captured(at(D1, 10)),
        l2.mql(at(D1, 10, 20)),
        l2.assigned(at(D1, 11), rep="rep-2", due=timedelta(hours=4)),
        l3.captured(at(D1, 11), source="web", campaign="autumn"),
        l3.mql(at(D1, 11, 30), model="m2", threshold=65),
        l3.returned(at(D1, 11, 31)),
        l4.captured(at(D2, 9), source="web", campaign="autumn"),
        l4.mql(at(D2, 9, 40), model="m2", threshold=65),
        l4.queued(at(D2, 9, 41)),
        l5.captured(at(D2, 10)),
        l5.scored(at(D2, 10, 5), threshold=62),
        l6.captured(at(D2, 12)),
        l6.mql(at(D2, 12, 5)),
        l6.assigned(at(D2, 12, 15), rep="rep-1", due=YEAR),
        capacity(at(D1, 15), total=10, free=2, queue=1),
        capacity(at(D1, 10), total=10, free=4, queue=0),
        capacity(at(D2, 9), total=12, free=0, queue=3),
        capacity(at(D2, 9), team="apac", total=5, free=5, queue=0),
    )


TIMELINE_LENGTHS = (3, 3, 3, 3, 2, 3)


async def consumed(client: httpx.AsyncClient, key: str, leads: list[Journey]) -> None:
    """Every lead's events are on its timeline, and every capacity report is in."""

    async def all_in() -> bool:
        for lead, length in zip(leads, TIMELINE_LENGTHS, strict=True):
            answer = await client.get(f"/v1/leads/{lead.lead_id}/timeline", headers=auth(key))
            if answer.status_code != 200 or len(answer.json()["events"]) != length:
                return False
        days = (await report(client, key, "capacity"))["rows"]
        return len(days) == 2 and days[1]["capacity"] == 17 and days[0]["queue_length"] == 1

    await wait_for(all_in, message="every event consumed")


async def report(client: httpx.AsyncClient, key: str, name: str, **query: str) -> dict:
    answer = await client.get(f"/v1/reports/{name}", params=RANGE | query, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()
