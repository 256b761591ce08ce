"""A lead's standing: recycling, its cooldown and maximum, and the verdicts that disqualify."""

from __future__ import annotations

from datetime import timedelta

from services.scoring.domain.standing import Standing, counts, disqualifies, recycle
from tests.scoring.domain_helpers import MODEL, NOW


def test_recycle_resets_engagement_and_cools_down() -> None:
    standing = recycle(Standing(state="held"), MODEL.recycle, NOW)
    assert standing.state == "recycled" and standing.recycles == 1
    assert not standing.can_qualify(NOW + timedelta(days=29))
    assert standing.can_qualify(NOW + timedelta(days=30))
    assert not counts(standing, NOW + timedelta(days=1))  # during the cooldown: not fresh
    assert counts(standing, NOW + timedelta(days=31))


def test_past_the_maximum_a_lead_stays_in_nurture() -> None:
    standing = Standing()
    for _ in range(3):
        standing = recycle(standing, MODEL.recycle, NOW)
    assert standing.state == "exhausted"
    assert not standing.can_qualify(NOW + timedelta(days=1000))


def test_disqualifying_verdicts_are_configurable() -> None:
    assert disqualifies(MODEL.recycle, "rejected", "spam")
    assert not disqualifies(MODEL.recycle, "rejected", "no_budget")
    assert not disqualifies(MODEL.recycle, "recycled", "spam")
