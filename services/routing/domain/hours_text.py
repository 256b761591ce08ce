"""Working hours as text: `"mon-fri 09:00-17:00; sat 10:00-14:00"`, read and written back."""

from __future__ import annotations

import re

from services.routing.domain.hours import MINUTES_PER_DAY, HoursError, Shift, WorkingHours, zone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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
