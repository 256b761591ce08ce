"""Every report against numbers worked out by hand from one known set of events.

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
import pytest

from tests.feedback.conftest import T0, Journey, Publish, capacity, verdict
from tests.helpers import auth, wait_for

pytestmark = pytest.mark.asyncio

D1, D2 = T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1)
RANGE = {"from": "2026-03-02", "to": "2026-03-03"}
YEAR = timedelta(days=365)  # due after the test's verdicts, whenever it runs: the SLA is met


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


@pytest.fixture
def leads() -> list[Journey]:
    return [Journey() for _ in range(6)]


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


FUNNEL_ALL = {
    "lead": 6,
    "mql": 5,
    "sql": 4,
    "accepted": 2,
    "opportunity": 1,
    "won": 1,
    "returned": 1,
    "queued": 1,
    "rejected": 1,
    "recycled": 0,
    "lost": 1,
    "lead_to_mql": 0.8333,
    "mql_to_sql": 0.8,
    "sql_to_accepted": 0.5,
    "accepted_to_opportunity": 0.5,
    "opportunity_to_won": 1.0,
    "lead_to_won": 0.1667,
}
CAPACITY = [
    {
        "day": "2026-03-02",
        "mqls": 3,
        "capacity": 10,
        "mqls_per_capacity": 0.3,
        "queue_length": 1,
        "free_slots": 2,
        "queue_max": 1,
        "threshold": {"min": 60, "max": 65, "last": 65},
    },
    {
        "day": "2026-03-03",
        "mqls": 2,
        "capacity": 17,
        "mqls_per_capacity": 0.1176,
        "queue_length": 3,
        "free_slots": 5,
        "queue_max": 3,
        "threshold": {"min": 60, "max": 65, "last": 60},
    },
]


async def test_every_report_matches_the_hand_computed_numbers(
    feedback: httpx.AsyncClient, publish: Publish, api_keys: dict[str, str], leads: list[Journey]
) -> None:
    l1, l2, _, _, _, l6 = leads
    key = api_keys["marketing"]
    await load(publish, leads)

    await consumed(feedback, key, leads)
    given = {}
    for lead, body, via in (
        (l1, verdict(l1.lead_id, "accepted", quality_rating=4), "sales"),
        (l1, verdict(l1.lead_id, "converted"), "sales"),
        (l1, verdict(l1.lead_id, "won", deal_value="1000.00", currency="EUR"), "crm"),
        (l2, verdict(l2.lead_id, "rejected", reason_code="no_budget", quality_rating=2), "crm"),
        (l6, verdict(l6.lead_id, "accepted", quality_rating=5), "sales"),
        (l6, verdict(l6.lead_id, "lost", reason_code="competitor"), "sales"),
    ):
        answer = await feedback.post("/v1/feedback", json=body, headers=auth(api_keys[via]))
        assert answer.status_code == 201, answer.text
        given.setdefault(lead.lead_id, datetime.fromisoformat(answer.json()["occurred_at"]))

    assert (await report(feedback, key, "capacity"))["rows"] == CAPACITY
    funnel = await report(feedback, key, "funnel")
    assert funnel["rows"] == [FUNNEL_ALL]
    assert (funnel["from"], funnel["to"], funnel["group_by"]) == ("2026-03-02", "2026-03-03", None)

    by_campaign = (await report(feedback, key, "funnel", group_by="utm_campaign"))["rows"]
    assert [(r["utm_campaign"], r["lead"], r["mql"], r["sql"], r["won"]) for r in by_campaign] == [
        ("autumn", 2, 2, 1, 0),
        ("spring", 4, 3, 3, 1),
    ]
    by_rep = (await report(feedback, key, "funnel", group_by="rep"))["rows"]
    assert [(r["rep"], r["lead"], r["accepted"], r["lost"], r["rejected"]) for r in by_rep] == [
        (None, 3, 0, 0, 0),
        ("rep-1", 2, 2, 1, 0),
        ("rep-2", 1, 0, 0, 1),
    ]
    by_model = (await report(feedback, key, "funnel", group_by="model_version"))["rows"]
    assert [(r["model_version"], r["lead"], r["mql"]) for r in by_model] == [
        ("m1", 4, 3),
        ("m2", 2, 2),
    ]
    one_day = await feedback.get(
        "/v1/reports/funnel", params={"from": "2026-03-03", "to": "2026-03-03"}, headers=auth(key)
    )
    assert [(r["lead"], r["mql"], r["queued"], r["lost"]) for r in one_day.json()["rows"]] == [
        (3, 2, 1, 1)
    ]

    quality = (await report(feedback, key, "quality", group_by="utm_campaign"))["rows"]
    assert quality == [
        {
            "utm_campaign": "autumn",
            "leads": 2,
            "judged": 0,
            "accepted": 0,
            "acceptance_rate": None,
            "rejected": 0,
            "recycled": 0,
            "reasons": {},
            "mean_rating": None,
            "won": 0,
            "win_rate": None,
            "revenue": {},
        },
        {
            "utm_campaign": "spring",
            "leads": 4,
            "judged": 3,
            "accepted": 2,
            "acceptance_rate": 0.6667,
            "rejected": 1,
            "recycled": 0,
            "reasons": {"lost": {"competitor": 1}, "rejected": {"no_budget": 1}},
            "mean_rating": 3.67,
            "won": 1,
            "win_rate": 0.5,
            "revenue": {"EUR": "1000.00"},
        },
    ]

    quality_csv = await feedback.get(
        "/v1/reports/quality",
        params=RANGE | {"group_by": "utm_campaign", "format": "csv"},
        headers=auth(key),
    )
    assert quality_csv.text.splitlines() == [
        "utm_campaign,leads,judged,accepted,acceptance_rate,rejected,recycled,mean_rating,won,"
        "win_rate,reasons.lost.competitor,reasons.rejected.no_budget,revenue.EUR",
        "autumn,2,0,0,,0,0,,0,,,,",
        "spring,4,3,2,0.6667,1,0,3.67,1,0.5,1,1,1000.00",
    ]

    speed = {r["rep"]: r for r in (await report(feedback, key, "speed", group_by="rep"))["rows"]}
    first_verdict = {
        "rep-1": sorted(
            [
                (given[l1.lead_id] - at(D1, 9, 30)).total_seconds(),
                (given[l6.lead_id] - at(D2, 12, 15)).total_seconds(),
            ]
        ),
        "rep-2": [(given[l2.lead_id] - at(D1, 11)).total_seconds()],
    }
    low, high = first_verdict["rep-1"]
    # Percentiles come from histograms whose buckets are 2^(1/8) wide: within 4.5 %.
    close = {"rel": 0.045}
    assert speed["rep-1"] == {
        "rep": "rep-1",
        "capture_to_mql": {
            "p50_s": pytest.approx(450.0, **close),
            "p90_s": pytest.approx(570.0, **close),
            "leads": 2,
        },
        "mql_to_assignment": {
            "p50_s": pytest.approx(900.0, **close),
            "p90_s": pytest.approx(1140.0, **close),
            "leads": 2,
        },
        "assignment_to_verdict": {
            "p50_s": pytest.approx((low + high) / 2, **close),
            "p90_s": pytest.approx(low + 0.9 * (high - low), **close),
            "leads": 2,
        },
        "sla_met": 2,
        "sla_missed": 0,
        "sla_compliance": 1.0,
    }
    rep2 = speed["rep-2"]
    assert rep2["capture_to_mql"]["p50_s"] == pytest.approx(1200.0, **close)
    assert rep2["mql_to_assignment"]["p90_s"] == pytest.approx(2400.0, **close)
    assert rep2["assignment_to_verdict"]["p50_s"] == pytest.approx(
        first_verdict["rep-2"][0], **close
    )
    assert (rep2["sla_missed"], rep2["sla_compliance"]) == (1, 0.0)
    unassigned = speed[None]
    assert unassigned["capture_to_mql"]["leads"] == 2
    assert unassigned["capture_to_mql"]["p50_s"] == pytest.approx(2100.0, **close)
    assert unassigned["capture_to_mql"]["p90_s"] == pytest.approx(2340.0, **close)
    assert unassigned["mql_to_assignment"] == {"p50_s": None, "p90_s": None, "leads": 0}
    assert unassigned["sla_compliance"] is None

    by_team = (await report(feedback, key, "capacity", group_by="team"))["rows"]
    assert [(r["day"], r["team"], r["total_capacity"], r["queue_length"]) for r in by_team] == [
        ("2026-03-02", "emea", 10, 1),
        ("2026-03-03", "apac", 5, 0),
        ("2026-03-03", "emea", 12, 3),
    ]


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
