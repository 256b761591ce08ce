"""A team's capacity at a moment, over the reps on duty, as sales.capacity.v1 reports it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.routing.domain.eligibility import Moment, on_duty
from services.routing.domain.org import Rep


@dataclass(frozen=True)
class Capacity:
    reps_available: int
    total_capacity: int
    open_load: int
    free_slots: int


def capacity(team_reps: Sequence[Rep], at: datetime) -> Capacity:
    """A team's capacity now, over the reps on duty (active, present, in hours)."""
    moment = Moment(at)
    present = [r for r in team_reps if on_duty(r, moment)]
    return Capacity(
        reps_available=len(present),
        total_capacity=sum(r.capacity for r in present),
        open_load=sum(r.open_load for r in present),
        free_slots=sum(_room(r, at) for r in present),
    )


def _room(rep: Rep, at: datetime) -> int:
    if rep.daily_cap is None:
        return rep.free()
    return min(rep.free(), max(0, rep.daily_cap - rep.assigned_on(at)))
