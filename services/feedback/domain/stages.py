"""A lead's stage, as feedback sees it, and the state machine its verdicts follow (routing's
events move it up to `assigned`, verdicts after):

    captured -> mql -> queued | returned -> assigned
    assigned  --accepted-->  accepted  --converted-->  converted  --won | lost-->  won | lost
              --rejected-->  rejected                  accepted   --won | lost-->  won | lost
              --recycled-->  recycled                  accepted   --recycled-->    recycled

- A verdict needs a rep: before `assigned` there is none to give.
- `rejected` and `recycled` end the rep's work; so do `won` and `lost`. Only a new assignment
  (the lead qualified again and routing assigned it) opens a new round at `assigned`.
- `won` only after `accepted` or `converted`; `lost` likewise (there was something to lose).
- A reassignment (the rep missed the follow-up deadline) keeps an `accepted` or `converted`
  lead where it is: the opportunity moves to the new rep, it does not start again.

An illegal step raises `IllegalStep` (409) naming the current stage and the allowed verdicts.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from shared.events import Verdict
from shared.problems import Conflict, Problem


class Stage(StrEnum):
    captured = "captured"
    mql = "mql"
    queued = "queued"
    returned = "returned"
    assigned = "assigned"
    accepted = "accepted"
    rejected = "rejected"
    recycled = "recycled"
    converted = "converted"
    won = "won"
    lost = "lost"


_NONE: frozenset[Verdict] = frozenset()
ALLOWED: MappingProxyType[Stage, frozenset[Verdict]] = MappingProxyType(
    {
        Stage.captured: _NONE,
        Stage.mql: _NONE,
        Stage.queued: _NONE,
        Stage.returned: _NONE,
        Stage.assigned: frozenset({Verdict.accepted, Verdict.rejected, Verdict.recycled}),
        Stage.accepted: frozenset({Verdict.converted, Verdict.won, Verdict.lost, Verdict.recycled}),
        Stage.converted: frozenset({Verdict.won, Verdict.lost}),
        Stage.rejected: _NONE,
        Stage.recycled: _NONE,
        Stage.won: _NONE,
        Stage.lost: _NONE,
    }
)
WITHOUT_REP = frozenset({Stage.captured, Stage.mql, Stage.queued, Stage.returned})
ROUND_OVER = frozenset({Stage.rejected, Stage.recycled, Stage.won, Stage.lost})
OPEN_DEAL = frozenset({Stage.accepted, Stage.converted})
# The order the verdicts are listed in messages: the funnel's.
VERDICT_ORDER = tuple(Verdict)


class IllegalStep(Conflict):
    def __init__(self, stage: Stage, verdict: Verdict) -> None:
        allowed = allowed_verdicts(stage)
        if allowed:
            why = f"allowed from {stage.value}: {', '.join(v.value for v in allowed)}"
        elif stage in WITHOUT_REP:
            why = "no verdict is allowed before the lead is assigned to a rep"
        else:
            why = f"the rep's work ended at {stage.value}; a new assignment opens a new round"
        super().__init__(
            f"the lead is {stage.value}; it cannot become {verdict.value}",
            [Problem("verdict", why)],
        )
        self.stage, self.verdict, self.allowed = stage, verdict, allowed


def allowed_verdicts(stage: Stage) -> tuple[Verdict, ...]:
    return tuple(v for v in VERDICT_ORDER if v in ALLOWED[stage])


def next_stage(stage: Stage, verdict: Verdict) -> Stage:
    """The stage `verdict` moves the lead to; `IllegalStep` if the machine does not allow it."""
    if verdict not in ALLOWED[stage]:
        raise IllegalStep(stage, verdict)
    return Stage(verdict.value)


def stage_after_assignment(stage: Stage) -> Stage:
    """A (re)assignment: an open deal stays with the lead, anything else awaits the new rep."""
    return stage if stage in OPEN_DEAL else Stage.assigned
