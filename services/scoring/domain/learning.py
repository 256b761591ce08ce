"""What sales' verdicts say about a model: labels, recency weights, per-rule calibration with
proposals, a reliability table, and ROC AUC. Pure: no I/O, no framework.

**Labels.** Every stage of the funnel is a label: `returned` (by routing), `rejected` (with its
reason), `recycled`, `accepted`, `converted`, `won` (with value), `lost` (with reason). A lead's
label is its latest stage. It was *accepted* when that stage is accepted, converted, won or lost
(a lost deal was worked first); *won* when it is won; *good* (the positive class of the AUC and
of the proposals) when it is accepted, converted or won, *bad* when rejected, returned, recycled
or lost.

**Recency.** An outcome weighs `0.5 ** (age_days / HALF_LIFE_DAYS)`: with a half-life of 90 days
an outcome from a quarter ago counts half, one from a year ago about a sixteenth. Weighted counts
enter the rates; the evidence minimum counts outcomes themselves (so old outcomes cannot be
inflated into evidence, and recent ones are not discounted out of it).

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
numpy / scikit-learn are not worth a dependency. The AUC is Mann-Whitney's U, computed by hand from
integer scores (ties count one half).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from services.scoring.domain.rates import Z95, Rate, pooled_rate
from services.scoring.domain.regression import rule_effects

HALF_LIFE_DAYS = 90.0
MIN_OUTCOMES = 30  # on each side of a rule (fired / not fired) before anything is proposed
PRIOR_SD = 1.0  # Normal(0, 1) prior on each rule's log-odds effect: the L2 penalty
POINTS_BOUNDS = (-1000, 1000)

STAGES = ("returned", "rejected", "recycled", "accepted", "converted", "won", "lost")
ACCEPTED = frozenset({"accepted", "converted", "won", "lost"})
GOOD = frozenset({"accepted", "converted", "won"})


class Outcome(NamedTuple):
    """One judged lead, anonymous: what fired, what it scored, how it ended and when. (A named
    tuple: 100,000 of them are built per calibration, three times faster than a dataclass.)"""

    fired: frozenset[str]
    total: int
    grade: str
    stage: str
    occurred_at: datetime

    @property
    def accepted(self) -> bool:
        return self.stage in ACCEPTED

    @property
    def won(self) -> bool:
        return self.stage == "won"

    @property
    def good(self) -> bool:
        return self.stage in GOOD


def recency_weight(
    occurred_at: datetime, now: datetime, half_life_days: float = HALF_LIFE_DAYS
) -> float:
    age_days = max(0.0, (now - occurred_at).total_seconds() / 86_400.0)
    return float(0.5 ** (age_days / half_life_days))


@dataclass(frozen=True)
class Pool:
    """Outcomes alike in all the calibration reads (rules fired, score, grade, stage): one of them,
    how many there are and their summed recency weight."""

    outcome: Outcome
    n: int
    weight: float


def pool(outcomes: Sequence[Outcome], weights: Sequence[float]) -> list[Pool]:
    """One pass over the outcomes; everything after it costs by group, not by outcome (a few
    hundred groups for 100,000 outcomes of a model with a handful of rules)."""
    cells: dict[tuple[frozenset[str], int, str, str], list[Any]] = {}
    for w, o in zip(weights, outcomes, strict=True):
        key = (o.fired, o.total, o.grade, o.stage)
        cell = cells.get(key)
        if cell is None:
            cells[key] = [o, 1, w]
        else:
            cell[1] += 1
            cell[2] += w
    return [Pool(o, n, w) for o, n, w in cells.values()]


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
class Band:
    key: str
    acceptance: Rate
    win: Rate


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
        grades=_bands(groups, lambda o: o.grade),
        bands=_bands(groups, score_band),
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


def score_band(outcome: Outcome, width: int = 10) -> str:
    low = math.floor(outcome.total / width) * width
    return f"{low}..{low + width - 1}"


def _bands(groups: Sequence[Pool], key: Callable[[Outcome], str]) -> list[Band]:
    bands: dict[str, list[Pool]] = {}
    for g in groups:
        bands.setdefault(key(g.outcome), []).append(g)
    ordered = sorted(bands, key=lambda k: (_band_order(k), k))
    return [
        Band(
            k,
            pooled_rate((g.weight, g.outcome.accepted, g.n) for g in bands[k]),
            pooled_rate((g.weight, g.outcome.won, g.n) for g in bands[k]),
        )
        for k in ordered
    ]


def _band_order(key: str) -> float:
    head = key.split("..")[0]
    try:
        return float(head)
    except ValueError:
        return 0.0


def points_per_logit(floor: int, ceiling: int) -> float:
    """The model's own scale: climbing from its floor to its ceiling is read as going from 1-in-10
    to 9-in-10 odds, a change of ln 81 in log-odds."""
    return max(1.0, (ceiling - floor) / math.log(81.0))


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
