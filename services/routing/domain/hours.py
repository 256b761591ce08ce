"""Working hours in a rep's own time zone, and out-of-office periods.

Hours are wall-clock shifts per weekday in an IANA zone, so a rep in New York keeps 09:00-17:00
across a DST change; `zoneinfo` does the offsets. They are written as text (`hours_text.py`) and
deadlines are counted in them (`deadlines.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


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


def minute_of_week(local: datetime) -> int:
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise HoursError(f"unknown IANA time zone {name!r}") from error
