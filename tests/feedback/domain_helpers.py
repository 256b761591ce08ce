"""What the domain tests of lead facts and aggregates share: one lead's journey to a rep."""

from __future__ import annotations

from datetime import timedelta

from services.feedback.domain import facts as f
from tests.feedback.conftest import T0

TOUCH = {"source": "ads", "form": "demo", "utm_campaign": "spring"}


def journey() -> f.LeadFacts:
    facts = f.captured(f.LeadFacts.first_seen(T0), T0, merged=False, touch=TOUCH)
    facts = f.qualified(facts, T0 + timedelta(hours=1), model_version="m2")
    return f.assigned(
        facts,
        T0 + timedelta(hours=2),
        rep="rep-1",
        team="emea",
        due=T0 + timedelta(hours=26),
        attempt=1,
    )
