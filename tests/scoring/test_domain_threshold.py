"""Scoring's threshold: free slots, the effective threshold between floor and ceiling, releases."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.scoring.domain.threshold import (
    Held,
    TeamSlots,
    effective_threshold,
    free_slots,
    placement,
    releases,
)
from tests.scoring.domain_helpers import MODEL, NOW

POLICY = MODEL.threshold  # F 30, B 60, U 80


def held(*scores: int) -> list[Held]:
    return [Held(uuid.uuid4(), s, NOW + timedelta(seconds=i)) for i, s in enumerate(scores)]


def test_k_subtracts_queues_and_releases_since_the_capacity_state() -> None:
    teams = [TeamSlots(free_slots=4, queue_length=1), TeamSlots(free_slots=3, queue_length=0)]
    assert free_slots(teams, released_total=2) == 4
    assert free_slots([], released_total=0) is None


def test_releases_count_from_the_oldest_team_state() -> None:
    # 10 released in all; team a's state arrived after 6 of them, team b's after 9
    teams = [TeamSlots(5, 0, mark=6), TeamSlots(5, 0, mark=9)]
    assert free_slots(teams, released_total=10) == 6  # 10 - 4: b's new state cannot free a's


def test_base_applies_while_no_capacity_is_known() -> None:
    t = effective_threshold(POLICY, None, held(40))
    assert (t.effective, t.free_slots, t.held) == (60, None, 1)
    assert "base threshold 60" in t.reason
    assert placement(POLICY, 60, None) == "mql"
    assert placement(POLICY, 59, None) == "held"
    assert releases(held(45), None) == []


def test_ceiling_when_sales_is_full() -> None:
    t = effective_threshold(POLICY, 0, held(70, 60))
    assert t.effective == 80 and "no free slots" in t.reason
    assert effective_threshold(POLICY, -3, []).effective == 80
    assert placement(POLICY, 80, -3) == "mql"  # at or above U always goes
    assert placement(POLICY, 79, -3) == "held"


def test_floor_when_fewer_held_than_slots() -> None:
    t = effective_threshold(POLICY, 5, held(70, 60))
    assert t.effective == 30
    assert t.reason == (
        "sales has 5 free slots and 2 held leads; every lead scoring 30 or more qualifies"
    )
    assert placement(POLICY, 29, 5) == "nurture"


def test_the_kth_best_held_lead_sets_the_bar() -> None:
    t = effective_threshold(POLICY, 3, held(55, 62, 79, 70, 31))
    assert t.effective == 62
    assert t.reason == "sales has 3 free slots; the 3rd best held lead scores 62"


def test_releases_go_best_first_then_oldest_first() -> None:
    leads = held(50, 70, 50, 60)
    released = releases(leads, 3)
    assert [h.score for h in released] == [70, 60, 50]
    assert released[2] is leads[0]  # the older of the two 50s


@given(
    st.integers(-100, 100),
    st.integers(0, 100),
    st.integers(1, 100),
    st.one_of(st.none(), st.integers(-3, 0), st.integers(1, 8)),
    st.lists(st.integers(-300, 300), max_size=12),
)
def test_threshold_is_always_within_floor_and_ceiling(
    floor: int, base_gap: int, top_gap: int, k: int | None, scores: list[int]
) -> None:
    policy = POLICY.model_copy(
        update={"floor": floor, "base": floor + base_gap, "ceiling": floor + base_gap + top_gap}
    )
    t = effective_threshold(policy, k, held(*scores))
    assert policy.floor <= t.effective <= policy.ceiling


@given(st.one_of(st.none(), st.integers(-20, 40)), st.lists(st.integers(30, 79), max_size=30))
def test_releases_never_exceed_k_and_go_best_first(k: int | None, scores: list[int]) -> None:
    leads = held(*scores)
    released = releases(leads, k)
    assert len(released) <= max(k or 0, 0)
    assert [h.score for h in released] == sorted((h.score for h in released), reverse=True)
    if released:
        assert min(h.score for h in released) >= max(
            (h.score for h in leads if h not in released), default=-(10**9)
        )


@given(st.integers(-200, 200), st.one_of(st.none(), st.integers(-5, 5)))
def test_never_an_mql_below_the_floor_never_held_at_the_ceiling(score: int, k: int | None) -> None:
    where = placement(POLICY, score, k)
    if score < POLICY.floor:
        assert where == "nurture"
    if score >= POLICY.ceiling:
        assert where == "mql"
