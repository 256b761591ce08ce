"""What a verdict must carry (domain/verdicts.py): every field's problem named at once."""

from __future__ import annotations

from decimal import Decimal

from services.feedback.domain.verdicts import content_problems
from shared.events import ReasonCode
from shared.events import Verdict as V


def test_content_problems_name_every_field_at_once() -> None:
    assert content_problems(V.accepted, None, None, None) == []
    assert content_problems(V.won, None, Decimal(10), "EUR") == []
    [reason] = content_problems(V.lost, None, None, None)
    assert reason.field == "reason_code" and "no_budget" in reason.reason
    fields = [p.field for p in content_problems(V.rejected, None, Decimal(1), "EUR")]
    assert fields == ["reason_code", "deal_value", "currency"]
    assert [p.field for p in content_problems(V.won, None, Decimal(1), None)] == ["currency"]
    assert [p.field for p in content_problems(V.won, None, None, "EUR")] == ["deal_value"]
    assert content_problems(V.recycled, ReasonCode.bad_timing, None, None) == []
