"""The dashboard's chart shapes (pages/charts.py): funnel bars, points plotted inside."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.feedback.api.pages.charts import funnel_bars, plot


def test_funnel_bars_scale_to_the_first_step_and_carry_the_step_rate() -> None:
    row = {"lead": 200, "mql": 50, "sql": 0, "lead_to_mql": 0.25, "mql_to_sql": 0.0}
    bars = funnel_bars(row, ["lead", "mql", "sql"])
    assert [(b.label, b.value, b.width) for b in bars] == [
        ("lead", 200, 100.0),
        ("mql", 50, 25.0),
        ("sql", 0, 0.0),
    ]
    assert [b.note for b in bars] == ["", "25% of lead", "0% of mql"]
    assert all(b.width == 0 for b in funnel_bars({}, ["lead", "mql"]))


@given(
    st.lists(
        st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
        min_size=1,
        max_size=60,
    )
)
def test_every_plotted_point_lies_inside_the_chart(values: list[float | None]) -> None:
    chart = plot([f"d{i}" for i in range(len(values))], {"mqls": values}, width=600, height=200)
    points = [p.split(",") for p in chart.lines["mqls"].split()]
    assert len(points) == sum(v is not None for v in values)
    for x, y in points:
        assert 0 <= float(x) <= 600 and 0 <= float(y) <= 200
    # the largest value touches the top (the scale is at least 0..1: counts, not fractions)
    if max((v for v in values if v is not None), default=0) >= 1:
        assert min(float(y) for _, y in points) == 0
