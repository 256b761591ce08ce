"""Feedback's verdict state machine (domain/stages.py): the steps it allows, the round's end."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.domain.stages import (
    ALLOWED,
    IllegalStep,
    Stage,
    allowed_verdicts,
    next_stage,
    stage_after_assignment,
)
from shared.events import Verdict
from shared.events import Verdict as V
from shared.problems import Problem

LEGAL = {
    (Stage.assigned, V.accepted),
    (Stage.assigned, V.rejected),
    (Stage.assigned, V.recycled),
    (Stage.accepted, V.converted),
    (Stage.accepted, V.won),
    (Stage.accepted, V.lost),
    (Stage.accepted, V.recycled),
    (Stage.converted, V.won),
    (Stage.converted, V.lost),
}


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("verdict", list(Verdict))
def test_the_machine_allows_exactly_the_written_steps(stage: Stage, verdict: Verdict) -> None:
    if (stage, verdict) in LEGAL:
        assert next_stage(stage, verdict) == Stage(verdict.value)
    else:
        with pytest.raises(IllegalStep) as refused:
            next_stage(stage, verdict)
        assert refused.value.status == 409
        assert stage.value in refused.value.detail and verdict.value in refused.value.detail


def test_an_illegal_step_names_the_current_stage_and_the_allowed_verdicts() -> None:
    with pytest.raises(IllegalStep) as refused:
        next_stage(Stage.assigned, V.won)
    assert refused.value.detail == "the lead is assigned; it cannot become won"
    assert refused.value.problems == [
        Problem("verdict", "allowed from assigned: accepted, rejected, recycled")
    ]


def test_no_verdict_before_a_rep_and_none_after_the_round_ends() -> None:
    with pytest.raises(IllegalStep, match="mql") as early:
        next_stage(Stage.mql, V.accepted)
    assert "before the lead is assigned" in early.value.problems[0].reason
    with pytest.raises(IllegalStep) as late:
        next_stage(Stage.rejected, V.accepted)
    assert "work ended at rejected" in late.value.problems[0].reason


def test_won_only_after_accepted_or_converted() -> None:
    assert {s for s in Stage if V.won in ALLOWED[s]} == {Stage.accepted, Stage.converted}


@given(st.lists(st.sampled_from(list(Verdict)), max_size=8))
def test_any_run_of_verdicts_ends_the_round_at_most_once(verdicts: list[Verdict]) -> None:
    stage, ended = Stage.assigned, 0
    for verdict in verdicts:
        if verdict not in ALLOWED[stage]:
            continue
        stage = next_stage(stage, verdict)
        ended += stage in {Stage.rejected, Stage.recycled, Stage.won, Stage.lost}
        assert (stage in {Stage.won, Stage.lost}) <= (V.accepted in verdicts)
    assert ended <= 1
    assert allowed_verdicts(stage) == tuple(v for v in Verdict if v in ALLOWED[stage])


def test_a_reassignment_keeps_an_open_deal_and_reopens_anything_else() -> None:
    assert stage_after_assignment(Stage.accepted) is Stage.accepted
    assert stage_after_assignment(Stage.converted) is Stage.converted
    for stage in (Stage.mql, Stage.queued, Stage.assigned, Stage.recycled, Stage.won):
        assert stage_after_assignment(stage) is Stage.assigned
