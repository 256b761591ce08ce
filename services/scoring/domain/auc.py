"""ROC AUC, how well a score separates good leads from bad: Mann-Whitney's U, computed by hand
from integer scores (ties count one half). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def auc(scored: Iterable[tuple[float, bool]]) -> float | None:
    """ROC AUC as Mann-Whitney's U / (positives × negatives); ties count one half. None without
    both classes."""
    histogram: dict[float, list[int]] = {}
    for score, positive in scored:
        histogram.setdefault(score, [0, 0])[0 if positive else 1] += 1
    return auc_of_histogram(histogram)


def auc_of_histogram(histogram: Mapping[float, Sequence[int]]) -> float | None:
    """`histogram`: score -> (positives, negatives)."""
    below = total = 0.0
    positives = negatives = 0
    for score in sorted(histogram):
        pos, neg = histogram[score][0], histogram[score][1]
        total += pos * below + 0.5 * pos * neg
        below += neg
        positives, negatives = positives + pos, negatives + neg
    if positives == 0 or negatives == 0:
        return None
    return total / (positives * negatives)
