"""The routing decision for one SQL: stickiness, then the team's strategy over eligible reps,
with every candidate and the reason each was passed over.

The decision ranks; it does not take a slot. The caller claims the first rep in PostgreSQL with a
conditional update, and on a lost race moves to the next: a stale view of the loads may cost a
retry, never a rep's capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.routing.domain.eligibility import Moment, Probe, Skip, skips
from services.routing.domain.evaluation import Verdict
from services.routing.domain.org import STICKY, Lead, Rep, Strategy, Team
from services.routing.domain.rules import Match
from services.routing.domain.strategies import least_loaded, round_robin, team_clock


@dataclass(frozen=True)
class Choice:
    rep: Rep
    strategy: str


@dataclass(frozen=True)
class Considered:
    rep_id: str
    skipped: tuple[Skip, ...]  # empty: eligible

    def as_dict(self) -> dict[str, Any]:
        return {"rep_id": self.rep_id, "eligible": not self.skipped, "skipped": self.skipped}


@dataclass(frozen=True)
class Placement:
    match: Match
    strategy: Strategy | None
    ranked: tuple[Choice, ...]  # best first; empty: the lead waits in the queue
    considered: tuple[Considered, ...]
    sticky: Considered | None = None


def place(
    lead: Lead,
    match: Match,
    team: Team | None,
    team_reps: Sequence[Rep],
    at: datetime,
    sticky_rep: Rep | None = None,
) -> Placement:
    """Rank the reps who may take `lead` at `at`; `sticky_rep` owns the lead's account."""
    moment, probe = Moment(at), Probe.of(lead)
    considered = tuple(Considered(r.id, skips(r, probe, moment)) for r in team_reps)
    eligible = [r for r, c in zip(team_reps, considered, strict=True) if not c.skipped]
    ranked: list[Choice] = []
    sticky = None
    if sticky_rep is not None:
        sticky = Considered(sticky_rep.id, skips(sticky_rep, probe, moment))
        if not sticky.skipped:
            ranked.append(Choice(sticky_rep, STICKY))
            eligible = [r for r in eligible if r.id != sticky_rep.id]
    strategy = team.strategy if team is not None else None
    if strategy is Strategy.weighted_round_robin:
        ordered = round_robin(eligible, team_clock(team_reps))
    else:
        ordered = least_loaded(eligible)
    ranked.extend(Choice(r, str(strategy)) for r in ordered)
    return Placement(match, strategy, tuple(ranked), considered, sticky)


def explain(verdict: Verdict, placement: Placement | None, chosen: Choice | None) -> dict[str, Any]:
    """What `GET /v1/leads/{id}/routing` shows: criteria, rule, strategy, every candidate."""
    result: dict[str, Any] = {
        "criteria": {
            "passed": verdict.passed,
            "version": verdict.version,
            "failed_criterion": verdict.failed_criterion,
            "reason": verdict.reason,
        }
    }
    if placement is None:
        return result
    result |= {
        "rule": placement.match.rule,
        "rules_not_matched": list(placement.match.skipped_rules),
        "team_id": placement.match.team_id,
        "strategy": chosen.strategy if chosen else placement.strategy,
        "chosen_rep_id": chosen.rep.id if chosen else None,
        "sticky_rep": placement.sticky.as_dict() if placement.sticky else None,
        "candidates": [c.as_dict() for c in placement.considered],
    }
    return result
