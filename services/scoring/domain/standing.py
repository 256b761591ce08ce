"""A lead's standing in scoring and how feedback moves it: qualify, recycle, disqualify.

States: `nurture` (below the bar, or waiting), `held` (in [F, U), waiting for sales capacity),
`mql` (handed to sales: exactly once per qualification), `recycled` (came back; cooling down),
`exhausted` (recycled more than the policy allows: nurture for good), `disqualified` (a
disqualifying verdict: never again), `erased` (the person's data is gone).

Recycle (verdict `recycled`, or `lead.returned.v1` from routing): engagement resets, and only
activity that happens after the cooldown counts again, so the lead can qualify again only with
fresh activity after the cooldown. A lead recycled more than `max_recycles` times is exhausted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.scoring.domain.document import RecyclePolicy

FINAL = frozenset({"exhausted", "disqualified", "erased"})
OPEN = frozenset({"nurture", "held", "recycled"})  # can still become an MQL


@dataclass(frozen=True)
class Standing:
    state: str = "nurture"
    recycles: int = 0
    engagement_since: datetime | None = None  # activities before this no longer count
    cooldown_until: datetime | None = None

    def can_qualify(self, now: datetime) -> bool:
        if self.state not in OPEN:
            return False
        return self.cooldown_until is None or now >= self.cooldown_until


def recycle(standing: Standing, policy: RecyclePolicy, now: datetime) -> Standing:
    """The lead came back from sales; final states stay as they are."""
    if standing.state in FINAL:
        return standing
    until = now + timedelta(days=policy.cooldown_days)
    recycles = standing.recycles + 1
    state = "exhausted" if recycles > policy.max_recycles else "recycled"
    return replace(
        standing, state=state, recycles=recycles, engagement_since=until, cooldown_until=until
    )


def disqualifies(policy: RecyclePolicy, verdict: str, reason_code: str | None) -> bool:
    return verdict == "rejected" and reason_code in policy.disqualifying_reasons


def counts(standing: Standing, happened_at: datetime) -> bool:
    """Whether an activity still counts toward engagement."""
    return standing.engagement_since is None or happened_at >= standing.engagement_since
