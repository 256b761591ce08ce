"""Rates from weighted outcomes: acceptance, win and good rates, with how sure they are.

A rate is a Beta(1, 1)-prior rate updated with the weighted counts of successes and failures
(recency weights, see `domain.outcomes`); its interval is the posterior's 95 % (normal
approximation of the Beta). `n` counts the outcomes themselves, unweighted: the evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959964


@dataclass(frozen=True)
class Rate:
    """A Beta(1, 1)-prior rate from weighted successes and failures, with a 95 % interval."""

    n: int  # outcomes behind it
    successes: float  # weighted
    failures: float  # weighted

    @property
    def alpha(self) -> float:
        return 1.0 + self.successes

    @property
    def beta(self) -> float:
        return 1.0 + self.failures

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def interval(self) -> tuple[float, float]:
        a, b = self.alpha, self.beta
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        return max(0.0, self.mean - Z95 * sd), min(1.0, self.mean + Z95 * sd)

    @property
    def logit(self) -> float:
        return math.log(self.alpha / self.beta)

    @property
    def logit_variance(self) -> float:
        return 1.0 / self.alpha + 1.0 / self.beta


def rate(weighted: Iterable[tuple[float, bool]]) -> Rate:
    return pooled_rate((weight, success, 1) for weight, success in weighted)


def pooled_rate(weighted: Iterable[tuple[float, bool, int]]) -> Rate:
    """From (summed weight, success, outcomes behind it) per group of outcomes."""
    n, yes, no = 0, 0.0, 0.0
    for weight, success, count in weighted:
        n += count
        if success:
            yes += weight
        else:
            no += weight
    return Rate(n, yes, no)
