"""Durations kept as log-scale histograms, so speed percentiles come from summed buckets.

A bucket is an eighth of a doubling (2^(1/8), about 9 % wide) and stands for its geometric
middle, so a percentile read from the buckets is at most 2^(1/16) - 1 = 4.43 % off the exact
one. Bucket 0 holds anything under a second (read as 0.5 s). A year is bucket 200.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

STEPS_PER_DOUBLING = 8


def bucket_of(seconds: float) -> int:
    """The bucket of a duration; negative ones (clock skew between producers) count as 0."""
    if seconds < 1:
        return 0
    return 1 + math.floor(STEPS_PER_DOUBLING * math.log2(seconds))


def bucket_value(bucket: int) -> float:
    """The duration a bucket stands for: its geometric middle (0.5 s for bucket 0)."""
    if bucket <= 0:
        return 0.5
    return float(2 ** ((bucket - 1 + 0.5) / STEPS_PER_DOUBLING))


def percentile(counts: Mapping[int, int], q: float) -> float | None:
    """Like PostgreSQL's percentile_cont, over the buckets' values: linear between the two
    closest ranks."""
    total = sum(counts.values())
    if total == 0:
        return None
    position = q * (total - 1)
    low, high = _at_rank(counts, math.floor(position)), _at_rank(counts, math.ceil(position))
    return low + (high - low) * (position - math.floor(position))


def _at_rank(counts: Mapping[int, int], rank: int) -> float:
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen > rank:
            return bucket_value(bucket)
    raise ValueError(f"rank {rank} beyond {seen} values")
