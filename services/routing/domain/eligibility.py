"""Who may take a lead now, and for every rep who may not, why."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from services.routing.domain.org import Lead, Rep, within


class Skip(StrEnum):
    inactive = "inactive"
    out_of_office = "out_of_office"
    off_hours = "off_hours"
    territory = "territory"
    language = "language"
    segment = "segment"
    full = "full"
    daily_cap = "daily_cap"


def on_duty(rep: Rep, at: datetime) -> bool:
    """Active, not away and inside working hours: counted as available whatever their load."""
    return (
        rep.active and not any(p.covers(at) for p in rep.out_of_office) and rep.hours.is_working(at)
    )


def skips(rep: Rep, lead: Lead, at: datetime) -> tuple[Skip, ...]:
    """Every reason this rep cannot take this lead at `at`; empty when they can."""
    reasons = []
    if not rep.active:
        reasons.append(Skip.inactive)
    if any(p.covers(at) for p in rep.out_of_office):
        reasons.append(Skip.out_of_office)
    if not rep.hours.is_working(at):
        reasons.append(Skip.off_hours)
    if rep.territories and not within(lead.country, rep.territories):
        reasons.append(Skip.territory)
    if rep.languages and not within(lead.language, rep.languages):
        reasons.append(Skip.language)
    if not _in_segment(rep, lead):
        reasons.append(Skip.segment)
    if rep.open_load >= rep.capacity:
        reasons.append(Skip.full)
    if rep.daily_cap is not None and rep.assigned_on(at) >= rep.daily_cap:
        reasons.append(Skip.daily_cap)
    return tuple(reasons)


def _in_segment(rep: Rep, lead: Lead) -> bool:
    sizes_ok = not rep.company_sizes or within(lead.company_size, rep.company_sizes)
    industries_ok = not rep.industries or within(lead.industry, rep.industries)
    return sizes_ok and industries_ok
