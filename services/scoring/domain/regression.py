"""A rule's effect on the odds of a good outcome, the other rules held fixed: a weighted L2
logistic regression on rule indicators, in pure Python (see `domain.calibration` for why)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.scoring.domain.outcomes import Outcome


def rule_effects(
    rules: Sequence[str], outcomes: Sequence[Outcome], weights: Sequence[float], prior_sd: float
) -> dict[str, tuple[float, float]]:
    """Each rule's effect on the log-odds of a good outcome, the others held fixed, with its
    standard deviation: the MAP of a weighted logistic regression on the rule indicators with a
    Normal(0, prior_sd) prior on each effect (an L2 penalty; the intercept is free). Identical
    indicator patterns are pooled first, so the cost follows the patterns, not the outcomes."""
    if not rules or not outcomes:
        return {}
    pooled: dict[tuple[int, ...], list[float]] = {}
    for w, o in zip(weights, outcomes, strict=True):
        key = tuple(1 if r in o.fired else 0 for r in rules)
        cell = pooled.setdefault(key, [0.0, 0.0])
        cell[0 if o.good else 1] += w
    rows = [((1.0, *map(float, k)), good, bad) for k, (good, bad) in pooled.items()]
    size = len(rules) + 1
    penalty = [0.0] + [1.0 / prior_sd**2] * len(rules)
    beta = [0.0] * size
    hessian: list[list[float]] = []
    for _ in range(50):
        gradient = [-penalty[i] * beta[i] for i in range(size)]
        hessian = [[penalty[i] if i == j else 0.0 for j in range(size)] for i in range(size)]
        for x, good, bad in rows:
            eta = sum(b * v for b, v in zip(beta, x, strict=True))
            mu = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, eta))))
            residual, curvature = good - (good + bad) * mu, (good + bad) * mu * (1.0 - mu)
            for i in range(size):
                gradient[i] += residual * x[i]
                if x[i]:
                    for j in range(size):
                        hessian[i][j] += curvature * x[i] * x[j]
        step = solve(hessian, gradient)
        beta = [b + d for b, d in zip(beta, step, strict=True)]
        if max(abs(d) for d in step) < 1e-8:
            break
    covariance = [
        solve(hessian, [1.0 if i == j else 0.0 for i in range(size)]) for j in range(size)
    ]
    return {
        r: (beta[i + 1], math.sqrt(max(0.0, covariance[i + 1][i + 1]))) for i, r in enumerate(rules)
    }


def solve(matrix: Sequence[Sequence[float]], vector: Sequence[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the matrix is small and positive definite)."""
    n = len(vector)
    a = [[*row, v] for row, v in zip(matrix, vector, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            a[col][col] = 1e-12
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    out = [0.0] * n
    for r in reversed(range(n)):
        out[r] = (a[r][n] - sum(a[r][c] * out[c] for c in range(r + 1, n))) / a[r][r]
    return out
