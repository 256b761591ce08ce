"""Where one scoring puts a lead and what it changes on the lead's row (the rule itself is in
`domain.threshold`): the pure steps that the one-event path (`qualify.evaluate`) and the batch
(`intake.take_in`) share, so the two cannot drift apart
(`tests/scoring/test_bulk_equivalence.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.scoring.domain.document import ThresholdPolicy
from services.scoring.domain.scoring import Score
from services.scoring.domain.standing import Standing
from services.scoring.domain.threshold import Held, effective_threshold, placement


@dataclass(frozen=True)
class Placed:
    """Where one scoring puts a lead (`place`): what the one-event and the batch path share."""

    state: str
    held_since: datetime | None
    threshold: int  # the effective threshold in force before the lead moved
    becomes_mql: bool
    contends: bool  # may qualify and scores at least the floor: releases may follow


def may_qualify(row: Any, now: datetime) -> bool:
    """Captured and activity events travel on different topics: an activity can arrive before
    the profile. Such a lead waits in nurture; its lead.captured.v1 evaluates it again."""
    standing = Standing(row.state, row.recycles, row.engagement_since, row.cooldown_until)
    return standing.can_qualify(now) and row.captured_at is not None


def contends(policy: ThresholdPolicy, row: Any, score: Score, now: datetime) -> bool:
    return may_qualify(row, now) and score.total >= policy.floor


def top_needed(k: int | None, held: int) -> int:
    """How many of the best held leads the threshold needs: the k-th exists only when k <= held."""
    return k if k is not None and 0 < k <= held else 0


def place(
    policy: ThresholdPolicy, row: Any, score: Score, now: datetime, k: int | None, top: list[Held]
) -> Placed:
    """The lead's new state for `score` (pure). `k` and `top` (the best `top_needed` held leads,
    best first) are as they were before this scoring moved the lead."""
    qualifies = may_qualify(row, now)
    state, held_since = row.state, row.held_since
    if qualifies:
        where = placement(policy, score.total, k)
        state = where
        held_since = (held_since or now) if where == "held" else None
    elif row.state == "recycled" and row.cooldown_until and now >= row.cooldown_until:
        state = "nurture"
    threshold = effective_threshold(policy, k, top).effective
    becomes_mql = state == "mql" and row.state != "mql"
    return Placed(
        state, held_since, threshold, becomes_mql, qualifies and score.total >= policy.floor
    )


def changes(row: Any, score: Score, placed: Placed, now: datetime) -> dict[str, Any]:
    """The lead row's new values after a scoring."""
    values = {
        "state": placed.state,
        "held_since": placed.held_since,
        "total": score.total,
        "fit": score.fit,
        "engagement": score.engagement,
        "grade": score.grade,
        "model_version": score.model_version,
        "explanation": [explain(f) for f in score.fired],
        "threshold": placed.threshold,
        "scored_at": now,
    }
    if placed.becomes_mql:
        values |= {"mql_at": now, "qualifications": row.qualifications + 1}
    return values


def explain(fired: Any) -> dict[str, Any]:
    out = {"rule": fired.rule, "points": fired.points, "kind": fired.kind}
    if fired.kind == "engagement":
        out |= {"count": fired.count, "raw": fired.raw, "decayed": fired.decayed}
    return out
