"""Report rows (domain/reports.py): funnel, quality, SLA and flow arithmetic, the CSV."""

from __future__ import annotations

from decimal import Decimal

from services.feedback.domain.reports import flow_row, funnel_row, quality_row, sla_row, to_csv


def test_funnel_rates_follow_the_steps() -> None:
    row = funnel_row({"lead": 10, "mql": 4, "sql": 3, "accepted": 2, "opportunity": 1, "won": 1})
    assert row["lead_to_mql"] == 0.4 and row["mql_to_sql"] == 0.75
    assert row["sql_to_accepted"] == 0.6667 and row["accepted_to_opportunity"] == 0.5
    assert row["opportunity_to_won"] == 1.0 and row["lead_to_won"] == 0.1
    assert row["rejected"] == 0
    assert funnel_row({})["lead_to_mql"] is None


def test_quality_row() -> None:
    row = quality_row(
        {
            "lead": 5,
            "judged": 4,
            "accepted": 3,
            "rejected": 1,
            "rating_sum": 10,
            "rating_count": 3,
            "won": 1,
        },
        {"spam": 1},
        {"USD": Decimal("5"), "EUR": Decimal("10.50")},
    )
    assert row["acceptance_rate"] == 0.75 and row["win_rate"] == 0.3333
    assert row["mean_rating"] == 3.33 and row["reasons"] == {"spam": 1}
    assert row["revenue"] == {"EUR": "10.50", "USD": "5"}


def test_sla_and_flow_rows() -> None:
    assert sla_row(3, 1)["sla_compliance"] == 0.75
    assert sla_row(0, 0)["sla_compliance"] is None
    assert flow_row(12, 10, 3) == {
        "mqls": 12,
        "capacity": 10,
        "mqls_per_capacity": 1.2,
        "queue_length": 3,
    }
    assert flow_row(2, None, None)["mqls_per_capacity"] is None


def test_csv_flattens_nested_columns_and_leaves_none_empty() -> None:
    text = to_csv(
        [
            {"group": "a", "revenue": {"EUR": "1"}, "rate": None},
            {"group": "b", "revenue": {}, "rate": 0.5},
        ]
    )
    assert text == "group,revenue.EUR,rate\r\na,1,\r\nb,,0.5\r\n"
