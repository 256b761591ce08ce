"""What sales' verdicts say about each rule of a model: its acceptance, win and good rates, and
proposed points where the evidence disagrees with its current points. Labels and recency weights
are in `domain.outcomes`, the reliability table per grade and score band in `domain.reliability`.
Pure: no I/O, no framework.

**Method, no dependency.** Rates (acceptance, win, good) are Beta(1, 1)-prior rates updated with the
weighted counts, with the posterior's 95 % interval (`domain.rates`). A rule's *effect* is its
coefficient in a weighted logistic regression of the good label on the rule indicators (which rules
fired), fitted as the MAP under a Normal(0, 1) prior on each coefficient — an L2 penalty — by Newton
steps on the pooled indicator patterns (`rule_effects`); its interval is ±1.96 posterior standard
deviations (the inverse Hessian). Holding the other rules fixed matters: a one-rule contrast was
tried and proposed cutting a truly good seniority rule because the truly better architects sat in
its "not fired" group. The model's scale, points per unit of log-odds, comes from its threshold
policy: the climb from floor to ceiling is read as going from 1-in-10 to 9-in-10 odds (ln 81; 11.4
points per unit for a 30..80 policy); a scale fitted on the outcomes was tried and rejected, as the
worse the model, the flatter the fit and the wilder the proposals. The proposed points are effect ×
scale, proposed only when the current points lie outside the effect's 95 % interval and at least
`MIN_OUTCOMES` outcomes stand on each side (fired / not fired) — otherwise "not enough evidence".
The fit has a handful of parameters and is pooled by pattern, so pure Python is fast enough and
numpy / scikit-learn are not worth a dependency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.scoring.domain.outcomes import HALF_LIFE_DAYS, Outcome, Pool, pool, recency_weight
from services.scoring.domain.rates import Z95, Rate, pooled_rate
from services.scoring.domain.regression import rule_effects
from services.scoring.domain.reliability import Band, bands_by, score_band

MIN_OUTCOMES = 30  # on each side of a rule (fired / not fired) before anything is proposed
PRIOR_SD = 1.0  # Normal(0, 1) prior on each rule's log-odds effect: the L2 penalty
POINTS_BOUNDS = (-1000, 1000)


@dataclass(frozen=True)
class RuleCalibration:
    rule: str
    points: int
    outcomes: int  # behind the rule: leads that fired it
    acceptance: Rate
    win: Rate
    good_when_fired: Rate
    good_otherwise: Rate
    proposed_points: int | None
    note: str

    @property
    def change(self) -> int | None:
        return None if self.proposed_points is None else self.proposed_points - self.points


@dataclass(frozen=True)
class Calibration:
    outcomes: int
    points_per_logit: float
    rules: list[RuleCalibration]
    grades: list[Band] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)


def calibrate(
    rules: Mapping[str, tuple[int, int]],
    outcomes: Sequence[Outcome],
    now: datetime,
    *,
    scale: float,
    half_life_days: float = HALF_LIFE_DAYS,
    minimum: int = MIN_OUTCOMES,
    prior_sd: float = PRIOR_SD,
) -> Calibration:
    """`rules`: rule id -> (current points, the least points it may have)."""
    weights = [recency_weight(o.occurred_at, now, half_life_days) for o in outcomes]
    groups = pool(outcomes, weights)
    effects = rule_effects(
        list(rules), [g.outcome for g in groups], [g.weight for g in groups], prior_sd
    )
    per_rule = [
        _rule(rule, points, least, groups, effects.get(rule), scale, minimum)
        for rule, (points, least) in rules.items()
    ]
    return Calibration(
        outcomes=len(outcomes),
        points_per_logit=scale,
        rules=per_rule,
        grades=bands_by(groups, lambda o: o.grade),
        bands=bands_by(groups, score_band),
    )


def _rule(
    rule: str,
    points: int,
    least: int,
    groups: Sequence[Pool],
    effect: tuple[float, float] | None,
    scale: float,
    minimum: int,
) -> RuleCalibration:
    fired = [g for g in groups if rule in g.outcome.fired]
    other = [g for g in groups if rule not in g.outcome.fired]
    n_fired, n_other = sum(g.n for g in fired), sum(g.n for g in other)
    proposed, note = None, ""
    if n_fired < minimum or n_other < minimum or effect is None:
        note = (
            f"not enough evidence: {n_fired} outcomes fired it and {n_other} did not; "
            f"at least {minimum} each are needed"
        )
    else:
        lift, sd = effect
        if abs(points / scale - lift) <= Z95 * sd:
            note = "the evidence agrees with the current points"
        else:
            proposed = max(least, min(POINTS_BOUNDS[1], round(lift * scale)))
            better = proposed > points
            note = f"leads that fire it do {'better' if better else 'worse'} than its points say"
            if proposed == points:
                proposed, note = None, "the evidence agrees with the current points"
    return RuleCalibration(
        rule=rule,
        points=points,
        outcomes=n_fired,
        acceptance=pooled_rate((g.weight, g.outcome.accepted, g.n) for g in fired),
        win=pooled_rate((g.weight, g.outcome.won, g.n) for g in fired),
        good_when_fired=pooled_rate((g.weight, g.outcome.good, g.n) for g in fired),
        good_otherwise=pooled_rate((g.weight, g.outcome.good, g.n) for g in other),
        proposed_points=proposed,
        note=note,
    )


def points_per_logit(floor: int, ceiling: int) -> float:
    """The model's own scale: climbing from its floor to its ceiling is read as going from 1-in-10
    to 9-in-10 odds, a change of ln 81 in log-odds."""
    return max(1.0, (ceiling - floor) / math.log(81.0))
