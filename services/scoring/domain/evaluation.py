"""How well a model would have done: the backtest's weekly tally and summary (drift, how well
it is doing lately, is `domain.drift`).

**Backtest.** Each replayed lead adds one to a tally keyed by the week it was created (weeks
start on Monday, UTC) and its integer score: (leads, good, bad) — see `domain.outcomes` for the
labels. Scores are integers, so the tally is small and exact: the ROC AUC and the precision at
the capacity cut-off come from it without keeping any lead. The week's *capacity* is what sales
reported on sales.capacity.v1: per team, the largest `total_capacity` published that week (or the
last one before it), summed over teams. *Precision at the cut-off*: among the week's `capacity`
best-scored leads, the share of the judged ones that were good (a tie at the cut-off counts pro
rata).

**MQLs against the capacity sales had** (`Replay`): the live rule of `domain.threshold`, replayed
with its own functions (`free_slots`, `placement`, `releases`) over the recorded capacity states
and the leads in the order they were created. Each recorded state, at its time, becomes its
team's latest (marked with the release counter) and the best held leads up to k are released;
each lead, at its creation time, is placed with its replayed score (an MQL at once at or above the
ceiling, or at or above the base while no capacity is known; held in [floor, ceiling); nurtured
below the floor), and the best held leads up to k are released. Every MQL counts in the week it
was produced and lowers k, as live. Held leads are kept as a count per score: the rule orders
them by score first, and a count is all the tally needs. Not replayed: decay while held and
activity after creation (a lead's replayed score is the one the backtest gives it). `mqls_at_base`
is the plain count of the week's leads scoring at least the base threshold, beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from services.scoring.domain.auc import auc_of_histogram
from services.scoring.domain.document import ThresholdPolicy
from services.scoring.domain.threshold import Held, TeamSlots, free_slots, placement, releases

Tally = dict[str, dict[str, list[int]]]  # week -> score -> [leads, good, bad]


def week_of(at: datetime) -> date:
    day = at.date()
    return day - timedelta(days=day.weekday())


def add(tally: Tally, created_at: datetime, score: int, good: bool | None) -> None:
    cell = tally.setdefault(week_of(created_at).isoformat(), {}).setdefault(str(score), [0, 0, 0])
    cell[0] += 1
    if good is True:
        cell[1] += 1
    elif good is False:
        cell[2] += 1


def weekly_capacity(
    states: Sequence[tuple[str, datetime, int]], weeks: Iterable[date]
) -> dict[date, int | None]:
    """`states`: (team, published_at, total_capacity) in any order."""
    ordered = sorted(states, key=lambda s: s[1])
    out: dict[date, int | None] = {}
    for week in weeks:
        start = datetime(week.year, week.month, week.day, tzinfo=UTC)
        end = start + timedelta(days=7)
        per_team: dict[str, int] = {}
        for team, at, capacity in ordered:
            if at < start:
                per_team[team] = capacity  # the last one before the week
        in_week: dict[str, int] = {}
        for team, at, capacity in ordered:
            if start <= at < end:
                in_week[team] = max(in_week.get(team, capacity), capacity)
        per_team.update(in_week)
        out[week] = sum(per_team.values()) if per_team else None
    return out


@dataclass(frozen=True)
class Figures:
    auc: float | None
    precision_at_capacity: float | None
    leads: int
    judged: int
    weeks: list[dict[str, Any]]


@dataclass(frozen=True)
class Recorded:
    """One recorded sales.capacity.v1 state."""

    team: str
    at: datetime
    free_slots: int
    queue_length: int


@dataclass
class Replay:
    """The capacity-following threshold replayed for one model (see the module docstring).
    `states` given to its methods are every recorded state in time order, the same list each
    time; `applied` counts those already applied."""

    held: dict[int, int] = field(default_factory=dict)  # score -> leads held
    teams: dict[str, TeamSlots] = field(default_factory=dict)
    released: int = 0  # the release counter
    applied: int = 0
    mqls: dict[str, int] = field(default_factory=dict)  # week -> MQLs produced
    # k from `free_slots` when the teams last changed, and the counter then: each release since
    # lowers it by one (the rule's own arithmetic), so k is not summed again per lead
    _k_at: tuple[int | None, int] | None = field(default=None, compare=False, repr=False)

    def lead(
        self, policy: ThresholdPolicy, states: Sequence[Recorded], at: datetime, score: int
    ) -> None:
        """A lead created at `at` with `score`, after every state recorded up to then."""
        self.catch_up(states, at, inclusive=True)
        where = placement(policy, score, self.k())
        if where == "mql":
            self._produce(at)
        elif where == "held":
            self.held[score] = self.held.get(score, 0) + 1
            self._release(at)

    def catch_up(self, states: Sequence[Recorded], until: datetime, *, inclusive: bool) -> None:
        """Apply the recorded states up to `until`, releasing after each."""
        while self.applied < len(states):
            state = states[self.applied]
            if state.at > until or (state.at == until and not inclusive):
                return
            self.teams[state.team] = TeamSlots(state.free_slots, state.queue_length, self.released)
            self.applied += 1
            self._k_at = None
            self._release(state.at)

    def k(self) -> int | None:
        if self._k_at is None:
            self._k_at = (free_slots(self.teams.values(), self.released), self.released)
        k, counted = self._k_at
        return None if k is None else k - (self.released - counted)

    def _release(self, at: datetime) -> None:
        k = self.k()
        if k is None or k <= 0 or not self.held:
            return
        for chosen in releases(self._best(k), k):
            self.held[chosen.score] -= 1
            if not self.held[chosen.score]:
                del self.held[chosen.score]
            self._produce(at)

    def _best(self, k: int) -> list[Held]:
        """At most k held leads, best score first (the rule's order among equal scores does not
        change a count)."""
        out: list[Held] = []
        for score in sorted(self.held, reverse=True):
            for _ in range(min(self.held[score], k - len(out))):
                out.append(Held(uuid.UUID(int=len(out)), score, EPOCH))
            if len(out) >= k:
                break
        return out

    def _produce(self, at: datetime) -> None:
        self.released += 1
        week = _week_key(at.date())
        self.mqls[week] = self.mqls.get(week, 0) + 1

    def to_data(self) -> dict[str, Any]:
        return {
            "held": {str(s): n for s, n in self.held.items()},
            "teams": {t: [v.free_slots, v.queue_length, v.mark] for t, v in self.teams.items()},
            "released": self.released,
            "applied": self.applied,
            "mqls": self.mqls,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Replay:
        return cls(
            held={int(s): int(n) for s, n in data.get("held", {}).items()},
            teams={t: TeamSlots(*v) for t, v in data.get("teams", {}).items()},
            released=int(data.get("released", 0)),
            applied=int(data.get("applied", 0)),
            mqls=dict(data.get("mqls", {})),
        )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _week_key(day: date) -> str:
    return (day - timedelta(days=day.weekday())).isoformat()


def summarize(
    tally: Tally,
    base: int,
    capacity: Mapping[date, int | None],
    mqls: Mapping[str, int] | None = None,
) -> Figures:
    """`mqls`: week -> MQLs the replay produced (`Replay.mqls`); a week with MQLs and no leads
    created (held leads released later) is listed too."""
    mqls = mqls or {}
    weeks = []
    overall: dict[float, list[int]] = {}
    top_good = top_judged = 0.0
    leads = judged = 0
    for week in sorted(set(tally) | set(mqls)):
        cells = {int(s): c for s, c in tally.get(week, {}).items()}
        for score, (_, good, bad) in cells.items():
            both = overall.setdefault(score, [0, 0])
            both[0], both[1] = both[0] + good, both[1] + bad
        n = sum(c[0] for c in cells.values())
        leads += n
        judged += sum(c[1] + c[2] for c in cells.values())
        cap = capacity.get(date.fromisoformat(week))
        good_top, judged_top = _top(cells, cap) if cap is not None else (0.0, 0.0)
        top_good, top_judged = top_good + good_top, top_judged + judged_top
        weeks.append(
            {
                "week": week,
                "leads": n,
                "mqls": mqls.get(week, 0),
                "mqls_at_base": sum(c[0] for s, c in cells.items() if s >= base),
                "capacity": cap,
                "auc": auc_of_histogram({s: (c[1], c[2]) for s, c in cells.items()}),
                "precision_at_capacity": good_top / judged_top if judged_top else None,
            }
        )
    return Figures(
        auc=auc_of_histogram(overall),
        precision_at_capacity=top_good / top_judged if top_judged else None,
        leads=leads,
        judged=judged,
        weeks=weeks,
    )


def _top(cells: Mapping[int, Sequence[int]], capacity: int) -> tuple[float, float]:
    """(good, judged) among the `capacity` best-scored leads; a tie at the cut-off pro rata."""
    left, good, judged = float(max(0, capacity)), 0.0, 0.0
    for score in sorted(cells, reverse=True):
        n, pos, neg = cells[score]
        if left <= 0:
            break
        share = min(1.0, left / n)
        good, judged, left = good + share * pos, judged + share * (pos + neg), left - n
    return good, judged
