"""A scoring model's lifecycle: both sides approve before activation; editing clears approvals."""

from __future__ import annotations

import pytest

from services.scoring.domain.lifecycle import ModelState, activate, approve, edit
from shared.problems import Conflict, Forbidden
from tests.scoring.domain_helpers import NOW


def test_both_sides_must_approve_before_activation() -> None:
    model = approve(ModelState("v1"), "marketing", "Mia", NOW)
    assert model.status == "draft"
    with pytest.raises(Conflict) as refused:
        activate(model)
    assert "sales approval" in refused.value.detail
    assert [p.field for p in refused.value.problems] == ["approvals.sales"]
    model = approve(model, "sales", "Sam", NOW)
    assert model.status == "approved"
    assert activate(model).status == "active"


def test_editing_clears_approvals_and_admins_do_not_approve_for_a_side() -> None:
    model = approve(approve(ModelState("v1"), "marketing", "Mia", NOW), "sales", "Sam", NOW)
    edited = edit(model)
    assert (edited.status, edited.approvals) == ("draft", {})
    with pytest.raises(Forbidden):
        approve(edited, "admin", "root", NOW)
    with pytest.raises(Conflict):
        edit(activate(model))
