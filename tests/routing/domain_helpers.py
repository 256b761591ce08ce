"""Routing's domain test helpers: a rep, a candidate lead and the instants the tests share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.routing.domain.evaluation import Candidate
from services.routing.domain.hours_text import parse_hours
from services.routing.domain.org import Lead, Rep

ALWAYS = parse_hours("UTC", "always")
MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
LEAD = Lead(score=80, grade="A", country="GB", language="en", company_size="51-200")


def rep(rep_id: str = "r1", **fields: Any) -> Rep:
    base: dict[str, Any] = dict(
        id=rep_id, email=f"{rep_id}@x.io", name=rep_id, team_id="t", capacity=5, hours=ALWAYS
    )
    return Rep(**(base | fields))


def candidate(**fields: Any) -> Candidate:
    base: dict[str, Any] = dict(score=70, grade="B", consent_given=True, profile={"country": "GB"})
    return Candidate(**(base | fields))
