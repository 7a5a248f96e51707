"""Quarters in the organisation's time zone, beside the boards' weeks and months."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from plugin.insights import periods as P

UTC = timezone.utc


def test_quarter_of_a_day_and_its_months():
    assert P.quarter_key(datetime(2026, 11, 29).date()) == "2026-Q4"
    assert P.quarter_key(datetime(2026, 1, 1).date()) == "2026-Q1"
    assert P.quarter_months("2026-Q4") == ["2026-10", "2026-11", "2026-12"]
    assert P.month_keys("2026-Q2") == ["2026-04", "2026-05", "2026-06"]
    assert P.month_keys("2026-11") == ["2026-11"] and P.month_keys("2026-W48") == ["2026-W48"]


def test_quarter_follows_the_organisation_time_zone():
    moment = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)  # already 1 January in Istanbul
    assert P.current_key(P.QUARTER, moment, ZoneInfo("UTC")) == "2026-Q4"
    assert P.current_key(P.QUARTER, moment, ZoneInfo("Europe/Istanbul")) == "2027-Q1"
    w = P.window("2027-Q1", ZoneInfo("Europe/Istanbul"))
    assert w.starts_at == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    assert w.ends_at == datetime(2027, 3, 31, 21, 0, tzinfo=UTC)


def test_previous_quarters_cross_the_year():
    now = datetime(2026, 2, 1, tzinfo=UTC)
    assert P.previous_keys(P.QUARTER, now, ZoneInfo("UTC"), 3) == ["2025-Q3", "2025-Q4", "2026-Q1"]
    assert P.previous_keys(P.MONTH, now, ZoneInfo("UTC"), 2) == ["2026-01", "2026-02"]


def test_keys_are_validated_by_kind():
    assert P.is_valid(P.QUARTER, "2026-Q4") and not P.is_valid(P.QUARTER, "2026-Q5")
    assert not P.is_valid(P.QUARTER, "2026-11") and P.is_valid(P.MONTH, "2026-11")
    assert P.is_valid(P.WEEK, "2026-W48") and not P.is_valid(P.WEEK, "2026-11") and not P.is_valid("day", "x")
    assert P.label("2026-Q4") == "Q4 2026" and P.short_label("2026-Q4") == "Q4 26"
