"""Board periods: all time, ISO weeks and calendar months, in the organisation's time zone.

A period is named by a short key kept in the aggregate tables: "all", "2026-W48" (ISO week, Monday to
Sunday) or "2026-11" (calendar month). The moment that decides the period is when the points were earned;
a reversal counts in the period of the entry it cancels, so a revoked award leaves the week it came from.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

ALL = "all"
WEEK, MONTH = "week", "month"
KINDS = (ALL, WEEK, MONTH)


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_key(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def keys_for(moment: datetime, tz: ZoneInfo) -> tuple[str, str, str]:
    """The all-time, week and month keys the moment falls in."""
    day = local_day(moment, tz)
    return ALL, week_key(day), month_key(day)


def current_key(kind: str, now: datetime, tz: ZoneInfo) -> str:
    all_key, week, month = keys_for(now, tz)
    return {ALL: all_key, WEEK: week, MONTH: month}[kind]


def kind_of(key: str) -> str:
    if key == ALL:
        return ALL
    return WEEK if "-W" in key else MONTH


@dataclass(frozen=True)
class Window:
    key: str
    starts_at: datetime | None  # UTC; None for all time
    ends_at: datetime | None

    @property
    def first_day(self) -> date | None:
        return None if self.starts_at is None else self.starts_at.date()


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def first_day(key: str) -> date | None:
    kind = kind_of(key)
    if kind == ALL:
        return None
    if kind == WEEK:
        year, week = key.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    year, month = key.split("-")
    return date(int(year), int(month), 1)


def window(key: str, tz: ZoneInfo) -> Window:
    """The UTC instants a period starts and ends at ([start, end)) in the given time zone."""
    start = first_day(key)
    if start is None:
        return Window(key, None, None)
    if kind_of(key) == WEEK:
        end = start + timedelta(days=7)
    else:
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return Window(key, midnight(start, tz), midnight(end, tz))


def previous_keys(kind: str, now: datetime, tz: ZoneInfo, count: int) -> list[str]:
    """The last `count` week or month keys up to and including the current one, oldest first."""
    day = local_day(now, tz)
    keys: list[str] = []
    if kind == WEEK:
        monday = day - timedelta(days=day.weekday())
        keys = [week_key(monday - timedelta(weeks=i)) for i in range(count)]
    elif kind == MONTH:
        year, month = day.year, day.month
        for _ in range(count):
            keys.append(f"{year}-{month:02d}")
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(keys))


FIRST_YEAR, LAST_YEAR = 2000, 2100  # periods anyone can ask for; beyond them dates overflow


def is_valid_key(key: str) -> bool:
    """A key as the aggregates name periods: "2026-011" or "2026-W5" parse, but no row is kept under them."""
    try:
        day = first_day(key)
    except (ValueError, TypeError):
        return False
    if key == ALL:
        return True
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        return False
    return key == (week_key(day) if kind_of(key) == WEEK else month_key(day))


def local_days(first: datetime, last: datetime, tz: ZoneInfo) -> list[tuple[datetime, date]]:
    """The stretches of time in which the local date (local_day) stays the same, from the day before `first`
    to the day after `last`: (UTC start, local date) in time order; a stretch runs until the next one starts.
    A date changes at a local midnight, or at a clock change that jumps over one (then the change is the
    moment the clocks moved), and a clock turned back over midnight gives one date two stretches, as
    local_day does. Rebuilds look entries up here instead of converting each one (leaderboards/rebuild.py)."""
    day, end = local_day(first, tz) - timedelta(days=1), local_day(last, tz) + timedelta(days=2)
    moments: set[datetime] = set()
    while day <= end:
        for fold in (0, 1):  # both readings of an ambiguous midnight
            moments.add(datetime.combine(day, time(0), tzinfo=tz).replace(fold=fold).astimezone(timezone.utc))
        day += timedelta(days=1)
    ordered = sorted(moments)
    for earlier, later in zip(ordered, ordered[1:]):  # a clock change in between: find its second
        if earlier.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            before, after = int(earlier.timestamp()), int(later.timestamp())
            offset = earlier.astimezone(tz).utcoffset()
            while after - before > 1:
                middle = (before + after) // 2
                if datetime.fromtimestamp(middle, tz).utcoffset() == offset:
                    before = middle
                else:
                    after = middle
            moments.add(datetime.fromtimestamp(after, timezone.utc))
    stretches: list[tuple[datetime, date]] = []
    for moment in sorted(moments):
        day = local_day(moment, tz)
        if not stretches or stretches[-1][1] != day:
            stretches.append((moment, day))
    return stretches
