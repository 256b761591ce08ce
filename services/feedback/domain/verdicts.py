"""Sales' verdicts: the state machine a lead's verdicts follow, and who may give one.

A lead's stage, as feedback sees it (routing's events move it up to `assigned`, verdicts after):

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

Who may judge: a `sales` key only a lead currently assigned to its own rep (after a
reassignment the previous rep no longer may); a `crm` key any lead, on behalf of its assignee;
an `admin` key like a crm key (admin passes every role check); anything else is refused (403)
with the reason.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

import pycountry

from shared.events import ReasonCode, Verdict
from shared.events.feedback import NEEDS_REASON
from shared.problems import Conflict, Forbidden, Problem
from shared.text import clean_text


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


class NotYours(Forbidden):
    pass


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


def acting_rep(role: str, key_rep_id: str | None, assignee: str | None) -> str | None:
    """The rep the verdict is given for, or `NotYours` saying why this key may not give it."""
    if role in {"crm", "admin"}:
        return assignee
    if role != "sales":
        raise NotYours.of(
            f"a {role} key may not give verdicts",
            "authorization",
            "needs a sales key for the assigned rep, or a crm key",
        )
    if not key_rep_id:
        raise NotYours.of(
            "this sales key is not bound to a rep", "authorization", "needs a rep's sales key"
        )
    if assignee is None:
        raise NotYours.of(
            "the lead is not assigned to any rep yet",
            "lead_id",
            f"only its assigned rep may judge it, and {key_rep_id} is not",
        )
    if assignee != key_rep_id:
        raise NotYours.of(
            f"the lead is assigned to another rep, not to {key_rep_id}",
            "lead_id",
            "only the rep it is currently assigned to may judge it",
        )
    return assignee


def content_problems(
    verdict: Verdict,
    reason_code: ReasonCode | None,
    deal_value: Decimal | None,
    currency: str | None,
) -> list[Problem]:
    """What the verdict's fields lack or carry wrongly, every one at once."""
    problems = []
    if verdict in NEEDS_REASON and reason_code is None:
        codes = ", ".join(code.value for code in ReasonCode)
        problems.append(Problem("reason_code", f"required for {verdict.value}; one of {codes}"))
    if verdict is Verdict.won:
        if deal_value is not None and currency is None:
            problems.append(Problem("currency", "required with deal_value"))
        if currency is not None and deal_value is None:
            problems.append(Problem("deal_value", "required with currency"))
    else:
        for field, value in (("deal_value", deal_value), ("currency", currency)):
            if value is not None:
                problems.append(Problem(field, f"only for a won verdict, not {verdict.value}"))
    return problems


NOTE_LIMIT = 2000


def clean_note(text: str) -> str | None:
    """The rep's words as capture keeps text: NFC, whitespace collapsed, bounded; blank is none."""
    return clean_text(text, limit=NOTE_LIMIT) or None


def clean_currency(code: str) -> str:
    """An ISO 4217 code, upper-cased."""
    code = code.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError("is not an ISO 4217 currency code")
    return code
