"""Who may give a verdict (domain/judge.py): a rep on their own leads, a CRM key on any."""

from __future__ import annotations

import pytest

from services.feedback.domain.judge import NotYours, acting_rep


def test_a_sales_key_judges_only_its_own_reps_leads() -> None:
    assert acting_rep("sales", "rep-1", "rep-1") == "rep-1"
    with pytest.raises(NotYours, match="another rep, not to rep-1") as other:
        acting_rep("sales", "rep-1", "rep-2")
    assert other.value.status == 403
    with pytest.raises(NotYours, match="not assigned to any rep"):
        acting_rep("sales", "rep-1", None)
    with pytest.raises(NotYours, match="not bound to a rep"):
        acting_rep("sales", None, "rep-1")


def test_a_crm_key_judges_any_lead_for_its_assignee_and_marketing_none() -> None:
    assert acting_rep("crm", None, "rep-7") == "rep-7"
    assert acting_rep("admin", None, "rep-7") == "rep-7"
    with pytest.raises(NotYours, match="a marketing key may not give verdicts"):
        acting_rep("marketing", None, "rep-7")
