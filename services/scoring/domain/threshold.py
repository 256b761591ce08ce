"""The MQL threshold that follows sales capacity: the rule, exactly.

Policy (in the approved model): floor F, base B, ceiling U, with F <= B <= U and F < U.

- Free slots k = Σ free_slots − Σ queue_length over the latest `sales.capacity.v1` state of every
  team, minus the MQLs released since that capacity state, so a burst cannot be released twice
  against the same slots. k may be negative (sales is over capacity). The capacity state is the
  sum of the teams' latest states, so it is as old as the oldest of them: the MQLs counted are
  those released since the oldest team state in the sum arrived (an MQL is not yet routed to a
  team when scoring releases it, so any team's slots may have taken it). Counting uses a release
  counter, not clocks: each team state remembers the counter's value when it arrived.
- Held leads: scoring in [F, U) and not yet MQL, ordered best first by score (higher first), then
  age (held longer first), then lead id (a stable tie-break).
- The effective threshold T:
    * B while no capacity is known (no team has published a state);
    * U when k <= 0 (sales is full: only leads at or above the ceiling go);
    * F when fewer than k leads are held (slack: everything at or above the floor goes);
    * otherwise the score of the k-th best held lead, clamped to [F, U].
- While no capacity is known, a lead scoring at least B is an MQL at once; one in [F, B) is held.
- Release: whenever a score or the capacity changes, the best held leads up to k are released as
  MQLs, best first, and each release lowers k by one. A lead at or above U is an MQL at once
  (even when k <= 0: routing queues it) and lowers k too. A lead below F is nurtured, never an MQL.

With a lead newly scored into [F, U), it joins the held leads first, so it qualifies exactly when
it ranks among the best k — that is, when its score is at least T computed over the held leads
with it (ties by age).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.scoring.domain.document import ThresholdPolicy


@dataclass(frozen=True)
class Held:
    lead_id: uuid.UUID
    score: int
    since: datetime

    def rank(self) -> tuple[int, datetime, str]:
        return (-self.score, self.since, str(self.lead_id))


@dataclass(frozen=True)
class TeamSlots:
    free_slots: int
    queue_length: int
    mark: int = 0  # the release counter when this state arrived


@dataclass(frozen=True)
class Threshold:
    effective: int
    free_slots: int | None  # k; None while no capacity is known
    held: int
    reason: str


def free_slots(teams: Iterable[TeamSlots], released_total: int) -> int | None:
    """k, or None when no team has published its capacity; `released_total` is the counter."""
    teams = list(teams)
    if not teams:
        return None
    slots = sum(t.free_slots for t in teams) - sum(t.queue_length for t in teams)
    return slots - released_since(teams, released_total)


def released_since(teams: Iterable[TeamSlots], released_total: int) -> int:
    """MQLs released since the oldest team state in the sum arrived."""
    return released_total - min((t.mark for t in teams), default=released_total)


def best_first(held: Iterable[Held]) -> list[Held]:
    return sorted(held, key=Held.rank)


def effective_threshold(policy: ThresholdPolicy, k: int | None, held: Sequence[Held]) -> Threshold:
    """T and the one-line reason; `held` in any order."""
    f, u, count = policy.floor, policy.ceiling, len(held)
    if k is None:
        reason = f"no sales capacity is known yet; the base threshold {policy.base} applies"
        return Threshold(policy.base, None, count, reason)
    if k <= 0:
        reason = f"sales has no free slots (k = {k}); only leads scoring {u} or more qualify"
        return Threshold(u, k, count, reason)
    if count < k:
        reason = (
            f"sales has {_slots(k)} and {count} held {_leads(count)}; "
            f"every lead scoring {f} or more qualifies"
        )
        return Threshold(f, k, count, reason)
    kth = best_first(held)[k - 1].score
    value = min(max(kth, f), u)
    reason = f"sales has {_slots(k)}; the {ordinal(k)} best held lead scores {kth}"
    return Threshold(value, k, count, reason)


def releases(held: Iterable[Held], k: int | None) -> list[Held]:
    """The held leads to release now, best first: at most k, none while capacity is unknown."""
    if k is None or k <= 0:
        return []
    return best_first(held)[:k]


def placement(policy: ThresholdPolicy, score: int, k: int | None) -> str:
    """Where a newly scored lead goes before releases: `mql`, `held` or `nurture`.

    While no capacity is known the base threshold decides, and leads in [F, B) are held until
    capacity is known.
    """
    if score < policy.floor:
        return "nurture"
    if score >= policy.ceiling or (k is None and score >= policy.base):
        return "mql"
    return "held"


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _slots(k: int) -> str:
    return "1 free slot" if k == 1 else f"{k} free slots"


def _leads(count: int) -> str:
    return "lead" if count == 1 else "leads"
