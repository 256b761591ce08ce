"""Who may take a lead now, and for every rep who may not, why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from services.routing.domain.hours import minute_of_week, zone
from services.routing.domain.org import Lead, Rep


class Skip(StrEnum):
    inactive = "inactive"
    out_of_office = "out_of_office"
    off_hours = "off_hours"
    territory = "territory"
    language = "language"
    segment = "segment"
    full = "full"
    daily_cap = "daily_cap"


@dataclass
class Moment:
    """A decision's instant, with each zone's local minute of the week and date worked out once:
    a team of a thousand reps lives in a handful of zones."""

    at: datetime
    _local: dict[str, tuple[int, date]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.timestamp = self.at.timestamp()

    def local(self, timezone: str) -> tuple[int, date]:
        known = self._local.get(timezone)
        if known is None:
            local = self.at.astimezone(zone(timezone))
            known = self._local[timezone] = (minute_of_week(local), local.date())
        return known


@dataclass(frozen=True)
class Probe:
    """The lead's attributes folded once, as the reps' sets are."""

    country: str | None
    language: str | None
    company_size: str | None
    industry: str | None

    @classmethod
    def of(cls, lead: Lead) -> Probe:
        def fold(value: str | None) -> str | None:
            return value.casefold() if value is not None else None

        return cls(
            fold(lead.country), fold(lead.language), fold(lead.company_size), fold(lead.industry)
        )


def on_duty(rep: Rep, at: datetime | Moment) -> bool:
    """Active, not away and inside working hours: counted as available whatever their load."""
    moment = at if isinstance(at, Moment) else Moment(at)
    return rep.active and not _away(rep, moment) and _working(rep, moment)


def skips(rep: Rep, lead: Lead | Probe, at: datetime | Moment) -> tuple[Skip, ...]:
    """Every reason this rep cannot take this lead at `at`; empty when they can."""
    probe = lead if isinstance(lead, Probe) else Probe.of(lead)
    moment = at if isinstance(at, Moment) else Moment(at)
    reasons = []
    if not rep.active:
        reasons.append(Skip.inactive)
    if _away(rep, moment):
        reasons.append(Skip.out_of_office)
    if not _working(rep, moment):
        reasons.append(Skip.off_hours)
    if rep.territories and probe.country not in rep.territories:
        reasons.append(Skip.territory)
    if rep.languages and probe.language not in rep.languages:
        reasons.append(Skip.language)
    if (rep.company_sizes and probe.company_size not in rep.company_sizes) or (
        rep.industries and probe.industry not in rep.industries
    ):
        reasons.append(Skip.segment)
    if rep.open_load >= rep.capacity:
        reasons.append(Skip.full)
    if rep.daily_cap is not None and _assigned_today(rep, moment) >= rep.daily_cap:
        reasons.append(Skip.daily_cap)
    return tuple(reasons)


def _away(rep: Rep, moment: Moment) -> bool:
    return bool(rep.out_of_office) and any(p.covers(moment.timestamp) for p in rep.out_of_office)


def _working(rep: Rep, moment: Moment) -> bool:
    return rep.hours.week[moment.local(rep.hours.timezone)[0]] == 1


def _assigned_today(rep: Rep, moment: Moment) -> int:
    today = moment.local(rep.hours.timezone)[1].isoformat()
    return rep.assigned_today if rep.assigned_day == today else 0
