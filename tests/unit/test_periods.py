"""Board periods: ISO weeks and calendar months in the organisation's time zone."""
from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from plugin.leaderboards.periods import (
    ALL,
    MONTH,
    WEEK,
    current_key,
    is_valid_key,
    keys_for,
    local_day,
    local_days,
    previous_keys,
    window,
)

ISTANBUL = ZoneInfo("Europe/Istanbul")  # UTC+3 all year
UTC = ZoneInfo("UTC")


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_monday_midnight_at_utc_plus_3_starts_the_next_iso_week():
    sunday_late = at(2026, 11, 29, 20, 59, 59)  # Sunday 23:59:59 in Istanbul
    monday = at(2026, 11, 29, 21, 0, 0)         # Monday 00:00 in Istanbul, still Sunday in UTC
    assert keys_for(sunday_late, ISTANBUL) == (ALL, "2026-W48", "2026-11")
    assert keys_for(monday, ISTANBUL) == (ALL, "2026-W49", "2026-11")
    assert keys_for(monday, UTC) == (ALL, "2026-W48", "2026-11")


def test_the_month_turns_at_local_midnight():
    assert keys_for(at(2026, 11, 30, 20, 59), ISTANBUL)[2] == "2026-11"
    assert keys_for(at(2026, 11, 30, 21, 0), ISTANBUL)[2] == "2026-12"


def test_iso_week_years_differ_from_calendar_years():
    assert keys_for(at(2027, 1, 1, 12), UTC)[1] == "2026-W53"  # Friday 1 Jan 2027 belongs to 2026's week 53
    assert keys_for(at(2024, 12, 30, 12), UTC)[1] == "2025-W01"


def test_windows_are_local_midnights_in_utc():
    week = window("2026-W49", ISTANBUL)
    assert (week.starts_at, week.ends_at) == (at(2026, 11, 29, 21), at(2026, 12, 6, 21))
    december = window("2026-12", ISTANBUL)
    assert (december.starts_at, december.ends_at) == (at(2026, 11, 30, 21), at(2026, 12, 31, 21))
    assert window(ALL, ISTANBUL).starts_at is None


@pytest.mark.parametrize("moment", [at(2026, 11, 29, 20, 59, 59), at(2026, 11, 29, 21), at(2026, 12, 31, 21, 30)])
def test_a_moment_lies_inside_the_windows_of_its_own_keys(moment):
    _, week, month = keys_for(moment, ISTANBUL)
    for key in (week, month):
        w = window(key, ISTANBUL)
        assert w.starts_at <= moment < w.ends_at


def test_current_and_previous_keys():
    now = at(2026, 11, 29, 21, 30)
    assert current_key(WEEK, now, ISTANBUL) == "2026-W49"
    assert current_key(MONTH, now, ISTANBUL) == "2026-11"
    assert previous_keys(WEEK, now, ISTANBUL, 3) == ["2026-W47", "2026-W48", "2026-W49"]
    assert previous_keys(MONTH, at(2026, 2, 10), UTC, 3) == ["2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("key,valid", [("all", True), ("2026-W48", True), ("2026-11", True), ("2026-W54", False),
                                       ("2026-13", False), ("week", False), ("", False), ("2026-W4x", False),
                                       ("2026-011", False), ("2026-W5", False), ("2026- 11", False),
                                       ("2026-W05", True), ("2026-W53", True), ("2025-W53", False)])
def test_period_keys_from_the_outside_are_checked(key, valid):
    assert is_valid_key(key) is valid


@pytest.mark.parametrize("zone, year", [
    ("Europe/Istanbul", 2012), ("America/Santiago", 2012), ("America/Havana", 2012), ("Asia/Kolkata", 2012),
    ("Australia/Lord_Howe", 2012), ("Pacific/Apia", 2011), ("America/New_York", 2012), ("UTC", 2012),
    ("America/St_Johns", 2010)])
def test_the_rebuilds_calendar_gives_every_moment_the_local_date_it_has(zone, year):
    """Santiago and Havana move their clocks at midnight (a midnight that never comes), Kolkata is half an
    hour off UTC, Lord Howe moves by half an hour, Apia skipped 30 December 2011, and St John's moved at 00:01
    until 2011: turning back from 00:01 to 23:01 gave 7 November 2010 a minute, then 6 November another hour."""
    tz = ZoneInfo(zone)
    first, last = datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 10, tzinfo=timezone.utc)
    stretches = local_days(first, last, tz)
    starts = [start for start, _ in stretches]
    assert starts == sorted(starts) and starts[0] <= first and stretches[-1][0] > last
    moment, checked = first, 0
    while moment <= last:
        start, day = stretches[bisect_right(starts, moment) - 1]
        assert day == local_day(moment, tz), (zone, moment, start)
        moment += timedelta(minutes=13, seconds=7)
        checked += 1
    for start, day in stretches[1:-1]:  # and at each change, to the second
        for moment in (start, start - timedelta(seconds=1)):
            found = stretches[bisect_right(starts, moment) - 1][1]
            assert found == local_day(moment, tz), (zone, moment)
    assert checked > 38_000
