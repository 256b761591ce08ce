"""Routing's eligibility and working hours: who is passed over, DST, follow-up deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.routing.domain.deadlines import follow_up_due
from services.routing.domain.eligibility import Skip, skips
from services.routing.domain.hours import HoursError, Period
from services.routing.domain.hours_text import format_hours, parse_hours
from tests.routing.domain_helpers import LEAD, MONDAY_NOON, rep


def test_every_reason_a_rep_is_passed_over() -> None:
    weekdays = parse_hours("Europe/London", "mon-fri 09:00-17:00")
    away = Period(MONDAY_NOON - timedelta(hours=1), MONDAY_NOON + timedelta(days=2))
    cases = {
        Skip.inactive: rep(active=False),
        Skip.out_of_office: rep(out_of_office=(away,)),
        Skip.off_hours: rep(hours=weekdays),
        Skip.territory: rep(territories=frozenset({"FR"})),
        Skip.language: rep(languages=frozenset({"fr"})),
        Skip.segment: rep(company_sizes=frozenset({"1000+"})),
        Skip.full: rep(open_load=5),
        Skip.daily_cap: rep(daily_cap=2, assigned_today=2, assigned_day="2026-11-30"),
    }
    assert skips(rep(), LEAD, MONDAY_NOON) == ()
    saturday = MONDAY_NOON + timedelta(days=5)
    for reason, candidate_rep in cases.items():
        at = saturday if reason is Skip.off_hours else MONDAY_NOON
        assert skips(candidate_rep, LEAD, at) == (reason,), reason
    yesterday = rep(daily_cap=2, assigned_today=2, assigned_day="2026-11-29")
    assert skips(yesterday, LEAD, MONDAY_NOON) == ()


def test_working_hours_follow_each_reps_zone() -> None:
    tokyo = parse_hours("Asia/Tokyo", "mon-fri 09:00-18:00")
    new_york = parse_hours("America/New_York", "mon-fri 09:00-17:00")
    at = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Mon 10:00 Tokyo, Sun 20:00 New York
    assert tokyo.is_working(at) and not new_york.is_working(at)
    at = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Tue 00:00 Tokyo, Mon 10:00 New York
    assert new_york.is_working(at) and not tokyo.is_working(at)


def test_working_hours_keep_local_time_across_a_dst_change() -> None:
    berlin = parse_hours("Europe/Berlin", "mon-fri 09:00-17:00")
    # 08:30 UTC is 09:30 in Berlin in winter (CET) but 10:30 in summer (CEST).
    before = datetime(2026, 3, 27, 7, 30, tzinfo=UTC)  # Fri, CET: 08:30 local
    after = datetime(2026, 3, 30, 7, 30, tzinfo=UTC)  # Mon, CEST: 09:30 local
    assert not berlin.is_working(before)
    assert berlin.is_working(after)
    assert berlin.is_working(datetime(2026, 3, 30, 14, 59, tzinfo=UTC))  # 16:59 local
    assert not berlin.is_working(datetime(2026, 3, 30, 15, 0, tzinfo=UTC))  # 17:00 local


def test_follow_up_deadline_counts_only_working_time() -> None:
    london = parse_hours("Europe/London", "mon-fri 09:00-17:00")
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # One hour left on Friday, the second on Monday morning.
    assert follow_up_due(london, friday_4pm, 120) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    assert follow_up_due(london, saturday, 30) == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def test_follow_up_deadline_across_the_autumn_dst_change() -> None:
    # New York falls back on Sun 1 Nov 2026; a Friday 16:00 EDT lead with 2 h SLA is due Mon
    # 10:00 EST, which is 15:00 UTC (it would be 14:00 UTC without the change).
    new_york = parse_hours("America/New_York", "mon-fri 09:00-17:00")
    friday_4pm = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)
    assert follow_up_due(new_york, friday_4pm, 120) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_overnight_shifts_and_hours_text_round_trip() -> None:
    nights = parse_hours("UTC", "fri 22:00-06:00")
    assert nights.is_working(datetime(2026, 11, 28, 5, 59, tzinfo=UTC))  # Sat 05:59
    assert not nights.is_working(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))
    assert parse_hours("UTC", format_hours(nights)) == nights


@pytest.mark.parametrize(
    ("zone", "text", "message"),
    [
        ("Mars/Olympus", "always", "time zone"),
        ("UTC", "mon 9-17", "is not like"),
        ("UTC", "mon 09:00-25:00", "time of day"),
        ("UTC", "funday 09:00-17:00", "is not like"),
        ("UTC", "mon-fri 09:00-09:00", "length"),
    ],
)
def test_unreadable_hours_say_why(zone: str, text: str, message: str) -> None:
    with pytest.raises(HoursError, match=message):
        parse_hours(zone, text)
