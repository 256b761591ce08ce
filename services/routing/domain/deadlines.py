"""Deadlines counted in working time. They walk the rep's real shifts as UTC instants, so an hour
of SLA is an hour the rep is actually working (a DST day has 23 or 25 hours)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from services.routing.domain.hours import MINUTES_PER_DAY, HoursError, WorkingHours

DEADLINE_HORIZON_DAYS = 400  # a rep with hours works at least once a week; this is a guard


def follow_up_due(hours: WorkingHours, start: datetime, working_minutes: float) -> datetime:
    """The instant when `working_minutes` of the rep's working time have passed since `start`."""
    remaining = timedelta(minutes=working_minutes)
    cursor = start.astimezone(UTC)  # time before the cursor is counted (overlaps count once)
    day = hours.local_date(cursor) - timedelta(days=1)  # a shift may start the day before
    for _ in range(DEADLINE_HORIZON_DAYS):
        for begin, end in spans(hours, day):
            begin = max(begin, cursor)
            if begin >= end:
                continue
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
            cursor = end
        day += timedelta(days=1)
    raise HoursError("no working time within a year to count a deadline in")


def spans(hours: WorkingHours, on: date) -> list[tuple[datetime, datetime]]:
    """The shifts of one local date as UTC instants."""
    result = []
    for shift in hours.shifts:
        if shift.day == on.weekday():
            result.append((_instant(hours, on, shift.start), _instant(hours, on, shift.end)))
    return sorted(result)


def _instant(hours: WorkingHours, on: date, minute: int) -> datetime:
    day = on + timedelta(days=minute // MINUTES_PER_DAY)
    wall = time(minute % MINUTES_PER_DAY // 60, minute % 60)
    return datetime.combine(day, wall, tzinfo=hours.zone).astimezone(UTC)
