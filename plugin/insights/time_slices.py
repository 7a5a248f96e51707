"""Differencing across periods: a quarter is its three months, a month the days of the weeks that touch it, a week its
days in one or two months. A figure withheld for one period must not come back as another period's figure minus the
shown ones (a quarter minus two of its months, a month minus its other weeks).

The pieces are slices: the days of one ISO week inside one calendar month (the organisation's time zone). Coarse
periods go first, as the page opens on the quarter:
- a week is shown when it and each of its slices have no people or at least k (so its slices give nobody away);
- a month's hidden part is its slices of withheld weeks: what the month minus its shown weeks leaves. A month is
  withheld when it, or that part, has people but fewer than k;
- the quarter minus its shown months leaves the hidden parts of its withheld months: while those together have
  people but fewer than k, one more month with a hidden part goes (the smallest), and when none is left to go, the
  quarter goes instead.
Each figure is judged on the people it covers (those who estimated minutes, rated, shared...), from the weeks that
touch the period's quarter. Only the figure's own group is looked at here: a period set beside another group's
other periods is not (plugin/insights/differencing.py sets groups beside each other within one period).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from plugin.insights import periods
from plugin.leaderboards.periods import WEEK, Window, first_day, local_day, month_key, week_key


def extended(kind: str, key: str, tz) -> Window:
    """Where a figure of the period is judged from: a week's own days; for a month or a quarter, the weeks that touch
    its quarter."""
    window = periods.window(key if kind == WEEK else _quarter_of(key), tz)
    if kind == WEEK:
        return window
    first = periods.window(week_key(local_day(window.starts_at, tz)), tz)
    last = periods.window(week_key(local_day(window.ends_at - timedelta(microseconds=1), tz)), tz)
    return Window(window.key, first.starts_at, last.ends_at)


def _quarter_of(key: str) -> str:
    """A month's quarter, or the quarter itself."""
    return key if periods.kind_of(key) == periods.QUARTER else periods.quarter_key(first_day(key))


class Slices:
    def __init__(self, kind: str, key: str, k: int, tz):
        self.kind, self.key, self.k, self.tz = kind, key, k, tz
        self._days: dict = {}

    def slice_of(self, moment) -> tuple[str, str]:
        day = local_day(moment, self.tz)
        if day not in self._days:
            self._days[day] = (week_key(day), month_key(day))
        return self._days[day]

    def shown(self, people_at) -> bool:
        """Whether a figure of the period may be shown, given (moment, user id) of the facts it covers around it."""
        people: dict[tuple[str, str], set[int]] = defaultdict(set)
        for moment, user_id in people_at:
            people[self.slice_of(moment)].add(user_id)
        if self.kind == WEEK:
            parts = [p for (week, _), p in people.items() if week == self.key]
            return not self._small(set().union(*parts)) and not any(self._small(p) for p in parts)
        withheld, quarter_shown = self._months(people, _quarter_of(self.key))
        return quarter_shown if self.kind == periods.QUARTER else self.key not in withheld

    def _months(self, people: dict, quarter: str) -> tuple[set[str], bool]:
        """The quarter's months withheld, and whether the quarter is shown."""
        everyone = {m: set().union(*(p for (_, month), p in people.items() if month == m), set())
                    for m in periods.quarter_months(quarter)}
        hidden = {m: self._hidden(people, m) for m in everyone}
        withheld = {m for m in everyone if self._small(everyone[m]) or self._small(hidden[m])}
        left = set().union(*(hidden[m] for m in withheld), set())
        while self._small(left):
            more = [m for m in everyone if m not in withheld and hidden[m]]
            if not more:
                return withheld, False
            month = min(more, key=lambda m: (len(everyone[m]), m))
            withheld.add(month)
            left |= hidden[month]
        return withheld, True

    def _small(self, people) -> bool:
        return 0 < len(people) < self.k

    def _hidden(self, people: dict, month: str) -> set[int]:
        """The people of the month's slices whose weeks are withheld."""
        weeks: dict[str, list[set[int]]] = defaultdict(list)
        for (week, _), p in people.items():
            weeks[week].append(p)
        out: set[int] = set()
        for (week, m), p in people.items():
            if m == month:
                slices = weeks[week]
                if self._small(set().union(*slices)) or any(self._small(s) for s in slices):
                    out |= p
        return out
