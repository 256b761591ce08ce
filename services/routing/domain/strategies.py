"""Choosing among eligible reps of a team: least loaded, or weighted round robin.

Weighted round robin is stride scheduling: each rep has a pass; the lowest pass is served and
moves on by 1/weight, so over any long run a rep's share is weight / total weight (the weight
scaled by the rep's `share` while their SLA record is poor). The team's
clock is the start of the latest turn served (derived from the reps' passes, so nothing but the
rep rows holds state): a rep back from leave starts at the clock instead of collecting the
turns they missed in one burst.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.routing.domain.org import Rep


def least_loaded(reps: Iterable[Rep]) -> list[Rep]:
    """Most free capacity relative to capacity first; then fewer open leads; then id."""
    return sorted(reps, key=lambda r: (-r.free() / r.capacity, r.open_load, r.id))


def team_clock(team_reps: Iterable[Rep]) -> float:
    return max((r.rr_pass - 1.0 / r.effective_weight for r in team_reps), default=0.0)


def turn(rep: Rep, clock: float) -> float:
    """Where the rep's next turn starts: their pass, or the clock if they fell behind it."""
    return max(rep.rr_pass, clock)


def round_robin(reps: Iterable[Rep], clock: float) -> list[Rep]:
    return sorted(reps, key=lambda r: (turn(r, clock), -r.effective_weight, r.id))


def served(rep: Rep, clock: float) -> float:
    """The rep's pass after one turn."""
    return turn(rep, clock) + 1.0 / rep.effective_weight
