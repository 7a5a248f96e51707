"""Board periods: ISO weeks and calendar months in the organisation's time zone."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from plugin.leaderboards.periods import (
    ALL,
    MONTH,
    WEEK,
    current_key,
    is_valid_key,
    keys_for,
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
                                       ("2026-13", False), ("week", False), ("", False), ("2026-W4x", False)])
def test_period_keys_from_the_outside_are_checked(key, valid):
    assert is_valid_key(key) is valid
