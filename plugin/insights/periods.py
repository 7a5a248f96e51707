"""Insight periods: ISO weeks and calendar months (from leaderboards.periods) plus calendar quarters, all in
the organisation's time zone. A quarter is named "2026-Q4" and is the union of its three month keys, so the
maintained per-month aggregates answer quarter questions exactly."""
from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from plugin.i18n import format_date
from plugin.i18n import gettext as _
from plugin.leaderboards import periods as board_periods
from plugin.leaderboards.periods import MONTH, WEEK, Window, local_day

QUARTER = "quarter"
KINDS = (WEEK, MONTH, QUARTER)


def quarter_key(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


_QUARTER_KEY = re.compile(r"([0-9]{4})-Q([1-4])")  # ASCII digits only: \d matches any script's digits


def _quarter_parts(key: str) -> tuple[int, int]:
    """(year, quarter) of a key like "2026-Q4"; ValueError for anything else, or a year outside the periods anyone
    can ask for (beyond them dates overflow)."""
    found = _QUARTER_KEY.fullmatch(key) if isinstance(key, str) else None
    if found is None or not board_periods.FIRST_YEAR <= int(found[1]) <= board_periods.LAST_YEAR:
        raise ValueError(key)
    return int(found[1]), int(found[2])


def quarter_months(key: str) -> list[str]:
    """The three month keys ("2026-10", "2026-11", "2026-12") a quarter is made of."""
    year, q = _quarter_parts(key)
    return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


def kind_of(key: str) -> str:
    return QUARTER if "-Q" in key else board_periods.kind_of(key)


def current_key(kind: str, now: datetime, tz: ZoneInfo) -> str:
    if kind == QUARTER:
        return quarter_key(local_day(now, tz))
    return board_periods.current_key(kind, now, tz)


def month_keys(key: str) -> list[str]:
    """The maintained-aggregate period keys that make up `key` (a week or month is itself)."""
    return quarter_months(key) if kind_of(key) == QUARTER else [key]


def window(key: str, tz: ZoneInfo) -> Window:
    """[start, end) in UTC of a week, month or quarter in the given time zone."""
    if kind_of(key) != QUARTER:
        return board_periods.window(key, tz)
    months = quarter_months(key)
    return Window(key, board_periods.window(months[0], tz).starts_at, board_periods.window(months[-1], tz).ends_at)


def previous_keys(kind: str, now: datetime, tz: ZoneInfo, count: int) -> list[str]:
    """The last `count` keys up to and including the current one, oldest first."""
    if kind != QUARTER:
        return board_periods.previous_keys(kind, now, tz, count)
    year, q = _quarter_parts(current_key(QUARTER, now, tz))
    keys = []
    for _step in range(count):
        keys.append(f"{year}-Q{q}")
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return list(reversed(keys))


def is_valid(kind: str, key: str) -> bool:
    try:
        if kind == QUARTER:
            _quarter_parts(key)
            return kind_of(key) == QUARTER
        return kind in (WEEK, MONTH) and board_periods.is_valid_key(key) and board_periods.kind_of(key) == kind
    except (ValueError, TypeError):
        return False


def label(key: str) -> str:
    """ "Q4 2026", "Week 12, 2026 (from 16 Mar)", "March 2026", in the request's language."""
    kind = kind_of(key)
    if kind == QUARTER:
        year, q = _quarter_parts(key)
        return _("Q%(quarter)s %(year)s", quarter=q, year=year)
    start = board_periods.first_day(key)
    if kind == WEEK:
        return _("Week %(week)s, %(year)s (from %(date)s)", week=key.split("-W")[1], year=start.isocalendar()[0],
                 date=format_date(start, "dd MMM"))
    return format_date(start, "LLLL y")


def short_label(key: str) -> str:
    kind = kind_of(key)
    if kind == QUARTER:
        year, q = _quarter_parts(key)
        return _("Q%(quarter)s %(year)s", quarter=q, year=str(year)[2:])
    if kind == WEEK:
        return _("W%(week)s", week=key.split("-W")[1])
    return format_date(board_periods.first_day(key), "LLL yy")
