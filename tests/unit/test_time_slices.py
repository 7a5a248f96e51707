"""Differencing across periods: from the weeks, months and quarter shown, no sum or difference gives the figure of
fewer than k people, and the quarter is kept where it can be."""
from datetime import date, datetime, timedelta, timezone
from itertools import combinations
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.insights.time_slices import Slices
from plugin.leaderboards.periods import month_key, week_key
from tests.unit.test_differencing import _in_span

K = 5
UTC = ZoneInfo("UTC")
FIRST = date(2025, 1, 1)  # 2025-Q1: 90 days, weeks 1 to 14 (week 1 starts in December, week 14 ends in April)
DAYS = [FIRST + timedelta(days=n) for n in range(90)]


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)


def shown(kind: str, key: str, facts: list[tuple[date, int]]) -> bool:
    """As the report decides: k people or none (primary), and then the periods beside it (time_slices)."""
    days = [d for d, _ in facts if (week_key(d) if kind == "week" else month_key(d) if kind == "month"
                                    else "2025-Q1") == key]
    people = {u for d, u in facts if d in days}
    if 0 < len(people) < K:
        return False
    return Slices(kind, key, K, UTC).shown((at(d), u) for d, u in facts)


def test_a_lone_person_in_january_hides_the_quarter_when_no_other_month_can_cover_them():
    facts = [(date(2025, 1, 15), 0)] + [(date(2025, 2, 11), u) for u in range(1, 6)]
    assert not shown("month", "2025-01", facts) and shown("month", "2025-02", facts)
    assert not shown("quarter", "2025-Q1", facts)


def test_thin_months_go_so_the_quarter_stays():
    facts = [(date(2025, 1, 6 + 7 * u), u) for u in range(3)] + [(date(2025, 2, 3 + 4 * u), 3 + u) for u in range(6)]
    assert shown("quarter", "2025-Q1", facts)
    assert not shown("month", "2025-01", facts) and not shown("month", "2025-02", facts)


def test_a_week_with_one_person_in_its_january_days_is_withheld():
    facts = [(date(2025, 1, 31), 0)] + [(date(2025, 2, 1), u) for u in range(1, 6)]  # week 5: 27 Jan to 2 Feb
    assert not shown("week", "2025-W05", facts)


facts_strategy = st.lists(st.tuples(st.sampled_from(DAYS), st.integers(0, 9)), max_size=24)


@settings(max_examples=120, deadline=None)
@given(facts_strategy)
def test_no_small_set_of_people_can_be_computed_from_the_periods_shown(facts):
    slices = sorted({(week_key(d), month_key(d)) for d in DAYS})
    people = {s: {u for d, u in facts if (week_key(d), month_key(d)) == s} for s in slices}
    live = [s for s in slices if people[s]]  # an empty part is a known zero
    periods = ([("week", w) for w in sorted({s[0] for s in slices})]
               + [("month", m) for m in ("2025-01", "2025-02", "2025-03")] + [("quarter", "2025-Q1")])
    columns = []
    for kind, key in periods:
        if shown(kind, key, facts):
            columns.append([1 if (s[0] == key if kind == "week" else s[1] == key if kind == "month" else True)
                            else 0 for s in live])
    small = [s for s in live if len(people[s]) < K]
    for n in range(1, len(small) + 1):
        for chosen in combinations(small, n):
            together = set().union(*(people[s] for s in chosen))
            if len(together) < K:
                assert not _in_span([1 if s in chosen else 0 for s in live], columns), (facts, chosen)
