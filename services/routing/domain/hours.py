"""Working hours in a rep's own time zone, out-of-office periods, and deadlines counted in
working time.

Hours are wall-clock shifts per weekday in an IANA zone, so a rep in New York keeps 09:00-17:00
across a DST change; `zoneinfo` does the offsets. Deadlines walk the rep's real shifts (UTC
instants), so an hour of SLA is an hour the rep is actually working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
DEADLINE_HORIZON_DAYS = 400  # a rep with hours works at least once a week; this is a guard


class HoursError(ValueError):
    """Working hours, a zone or a period that cannot be understood; the message says why."""


@dataclass(frozen=True, order=True)
class Shift:
    """One weekday's working span in local wall time: minutes since midnight, end exclusive."""

    day: int  # 0 = Monday
    start: int
    end: int


@dataclass(frozen=True)
class Period:
    """An out-of-office period, [start, end) as aware instants."""

    start: datetime
    end: datetime

    @cached_property
    def span(self) -> tuple[float, float]:
        return self.start.timestamp(), self.end.timestamp()

    def covers(self, at: datetime | float) -> bool:
        """`at` as an aware instant or as its POSIX timestamp (cheaper, for many periods)."""
        start, end = self.span
        return start <= (at if isinstance(at, float) else at.timestamp()) < end


@dataclass(frozen=True)
class WorkingHours:
    timezone: str
    shifts: tuple[Shift, ...]

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    @cached_property
    def week(self) -> bytes:
        """One byte per minute of the local week, 1 when working: a lookup instead of a scan."""
        minutes = bytearray(MINUTES_PER_WEEK)
        for s in self.shifts:
            minutes[s.day * MINUTES_PER_DAY + s.start : s.day * MINUTES_PER_DAY + s.end] = (
                b"\x01" * (s.end - s.start)
            )
        return bytes(minutes)

    def is_working(self, at: datetime) -> bool:
        return self.week[minute_of_week(at.astimezone(self.zone))] == 1

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def spans(self, on: date) -> list[tuple[datetime, datetime]]:
        """The shifts of one local date as UTC instants (a DST day is 23 or 25 hours long)."""
        result = []
        for shift in self.shifts:
            if shift.day == on.weekday():
                result.append((self._instant(on, shift.start), self._instant(on, shift.end)))
        return sorted(result)

    def _instant(self, on: date, minute: int) -> datetime:
        day = on + timedelta(days=minute // MINUTES_PER_DAY)
        wall = time(minute % MINUTES_PER_DAY // 60, minute % 60)
        return datetime.combine(day, wall, tzinfo=self.zone).astimezone(UTC)


def minute_of_week(local: datetime) -> int:
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise HoursError(f"unknown IANA time zone {name!r}") from error


_SPEC = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:-[a-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


def parse_hours(timezone: str, text: str) -> WorkingHours:
    """`"mon-fri 09:00-17:00; sat 10:00-14:00"`; `24:00` ends a day; `22:00-06:00` runs past
    midnight into the next day; `always` is every hour of the week."""
    zone(timezone)
    text = text.strip().lower()
    if text in ("always", "24/7"):
        shifts = [Shift(day, 0, MINUTES_PER_DAY) for day in range(7)]
        return WorkingHours(timezone, tuple(shifts))
    shifts = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _SPEC.match(part)
        if match is None:
            raise HoursError(f"{part!r} is not like 'mon-fri 09:00-17:00'")
        start, end = _minute(match["start"]), _minute(match["end"])
        if start == end or start >= MINUTES_PER_DAY:
            raise HoursError(f"{part!r}: a shift must have a length and start before 24:00")
        for day in _days(match["days"]):
            if start < end:
                shifts.append(Shift(day, start, end))
            else:  # past midnight: the rest of the day, then the next morning
                shifts.append(Shift(day, start, MINUTES_PER_DAY))
                shifts.append(Shift((day + 1) % 7, 0, end))
    if not shifts:
        raise HoursError("no shifts given")
    return WorkingHours(timezone, tuple(sorted(set(shifts))))


def format_hours(hours: WorkingHours) -> str:
    """The shifts back as text `parse_hours` reads (one entry per shift)."""
    return "; ".join(
        f"{DAYS[s.day]} {s.start // 60:02d}:{s.start % 60:02d}-{s.end // 60:02d}:{s.end % 60:02d}"
        for s in hours.shifts
    )


def _minute(text: str) -> int:
    hours, minutes = (int(x) for x in text.split(":"))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        raise HoursError(f"{text!r} is not a time of day")
    return hours * 60 + minutes


def _days(text: str) -> list[int]:
    days: list[int] = []
    for item in (i.strip() for i in text.split(",")):
        first, _, last = item.partition("-")
        for name in (first, last or first):
            if name not in DAYS:
                raise HoursError(f"{name!r} is not a day (mon … sun)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


def follow_up_due(hours: WorkingHours, start: datetime, working_minutes: float) -> datetime:
    """The instant when `working_minutes` of the rep's working time have passed since `start`."""
    remaining = timedelta(minutes=working_minutes)
    cursor = start.astimezone(UTC)  # time before the cursor is counted (overlaps count once)
    day = hours.local_date(cursor) - timedelta(days=1)  # a shift may start the day before
    for _ in range(DEADLINE_HORIZON_DAYS):
        for begin, end in hours.spans(day):
            begin = max(begin, cursor)
            if begin >= end:
                continue
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
            cursor = end
        day += timedelta(days=1)
    raise HoursError("no working time within a year to count a deadline in")
