"""What sales' verdicts give learning: each judged lead's label, and how much it weighs by its age.
Pure: no I/O, no framework.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

HALF_LIFE_DAYS = 90.0

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
