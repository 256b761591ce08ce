"""Every report against the numbers worked out by hand from the story in reports_helpers."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.feedback.conftest import Journey, Publish, verdict
from tests.feedback.reports_helpers import D1, D2, RANGE, at, consumed, load, report
from tests.helpers import auth

pytestmark = pytest.mark.asyncio


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
