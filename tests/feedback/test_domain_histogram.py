"""Duration histograms (domain/histogram.py): buckets, percentiles within their resolution."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from services.feedback.domain import histogram
from services.feedback.domain.histogram import bucket_of, bucket_value
from services.feedback.domain.reports import speed_row


def exact_percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont, written out for the comparison."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return low + (high - low) * (position - math.floor(position))


def test_buckets_cover_durations_in_order_and_stand_for_their_middle() -> None:
    assert bucket_of(-5) == bucket_of(0) == bucket_of(0.99) == 0
    assert bucket_of(1) == 1 and bucket_of(2) == 9 and bucket_of(365 * 86400) == 200
    for seconds in (1.0, 7.5, 90.0, 3600.0, 86400.0 * 3):
        assert abs(bucket_value(bucket_of(seconds)) / seconds - 1) <= 0.045
    assert histogram.percentile({}, 0.5) is None
    assert speed_row({}) == {"p50_s": None, "p90_s": None, "leads": 0}


@given(st.lists(st.floats(1, 3e7), min_size=1, max_size=60), st.sampled_from([0.5, 0.9]))
def test_a_percentile_from_buckets_is_within_the_bucket_resolution(
    values: list[float], q: float
) -> None:
    counts: dict[int, int] = {}
    for value in values:
        counts[bucket_of(value)] = counts.get(bucket_of(value), 0) + 1
    estimate = histogram.percentile(counts, q)
    assert estimate is not None
    assert abs(estimate / exact_percentile(values, q) - 1) <= 0.045
