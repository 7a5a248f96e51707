"""What rules may know about a person: a protocol, plus an in-memory implementation for pure tests.

The database implementation (plugin/facts/) answers the same questions from the domain tables. Every
question is scoped to one person in one course; `since=None` means all time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Protocol


class Facts(Protocol):
    def experiments(self, *, since: datetime | None = None, outcome: str | None = None,
                    category_id: int | None = None, tool_id: int | None = None, shared_only: bool = False,
                    failed_with_reflection: bool = False, min_reflection: int = 1) -> int: ...
    def distinct_tools(self, since: datetime | None = None) -> int: ...
    def distinct_categories(self, since: datetime | None = None) -> int: ...
    def same_tool_and_category(self, tool_key: str, category_id: int, since: datetime, before_id: int) -> int: ...
    def helps_given(self, since: datetime | None = None, across_teams: bool = False) -> int: ...
    def kudos_received(self, since: datetime | None = None) -> int: ...
    def reactions_received(self, since: datetime | None = None) -> int: ...
    def reuses_received(self, since: datetime | None = None) -> int: ...
    def active_weeks(self, since: datetime | None = None) -> set[date]: ...
    def points(self, dimension: str) -> int: ...
    def day_of(self, moment: datetime) -> date: ...  # the day in the organisation's time zone
    def points_on_day(self, day: date, source_type: str) -> int: ...
    def rule_awards(self, rule_id: int, since: datetime | None = None) -> int: ...
    def last_rule_award(self, rule_id: int) -> datetime | None: ...
    def challenges_completed(self, since: datetime | None = None) -> int: ...
    # Awards were just posted (this rule's, at `at`: a ledger row and/or a badge award): forget, or bring up to
    # date, anything remembered about them.
    def changed(self, rule_id: int | None = None, at: datetime | None = None, ledger: bool = False,
                badge: bool = False) -> None: ...


def week_start(moment: datetime | date) -> date:
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def streak(weeks: set[date], now: datetime) -> int:
    """Consecutive ISO weeks with activity, ending this week (or last week, so Monday morning still counts)."""
    current = week_start(now)
    if current not in weeks:
        current -= timedelta(weeks=1)
    count = 0
    while current in weeks:
        count += 1
        current -= timedelta(weeks=1)
    return count


def _reflection(row: dict) -> int:
    """Reflection length of an experiment row ("reflected": True counts as a long-enough one)."""
    return row.get("reflection_chars", 10_000 if row.get("reflected") else 0)


def _since(items, since):
    return [i for i in items if since is None or i["at"] >= since]


@dataclass
class MemoryFacts:
    """Facts held in lists of plain dicts: experiments {id, at, outcome, category_id, tool_key, shared,
    reflection_chars (or reflected), duplicate}, helps {at, across_teams}, kudos/reactions {at}, reuses {at, by}, points {dimension: n},
    day_points {(day, source_type): n}, awards {rule_id, at}, challenges {at} (completed)."""

    experiment_rows: list[dict] = field(default_factory=list)
    help_rows: list[dict] = field(default_factory=list)
    kudos_rows: list[dict] = field(default_factory=list)
    reaction_rows: list[dict] = field(default_factory=list)
    reuse_rows: list[dict] = field(default_factory=list)
    point_totals: dict[str, int] = field(default_factory=dict)
    day_points: dict[tuple[date, str], int] = field(default_factory=dict)
    award_rows: list[dict] = field(default_factory=list)
    challenge_rows: list[dict] = field(default_factory=list)
    time_zone: tzinfo = timezone.utc  # decides which day a moment's points count in (the daily cap)

    def _counted(self, since=None) -> list[dict]:
        return [r for r in _since(self.experiment_rows, since) if not r.get("duplicate")]

    def experiments(self, *, since=None, outcome=None, category_id=None, tool_id=None, shared_only=False,
                    failed_with_reflection=False, min_reflection=1) -> int:
        rows = self._counted(since)
        rows = [r for r in rows if (outcome is None or r["outcome"] == outcome)
                and (category_id is None or r["category_id"] == category_id)
                and (tool_id is None or r["tool_key"] == f"tool:{tool_id}")
                and (not shared_only or r["shared"])
                and (not failed_with_reflection
                     or (r["outcome"] == "failed" and _reflection(r) >= min_reflection and r["shared"]))]
        return len(rows)

    def distinct_tools(self, since=None) -> int:
        return len({r["tool_key"] for r in self._counted(since)})

    def distinct_categories(self, since=None) -> int:
        return len({r["category_id"] for r in self._counted(since)})

    def same_tool_and_category(self, tool_key, category_id, since, before_id) -> int:
        return sum(1 for r in self._counted(since)
                   if r["tool_key"] == tool_key and r["category_id"] == category_id and r["id"] < before_id)

    def helps_given(self, since=None, across_teams=False) -> int:
        return sum(1 for r in _since(self.help_rows, since) if not across_teams or r["across_teams"])

    def kudos_received(self, since=None) -> int:
        return len(_since(self.kudos_rows, since))

    def reactions_received(self, since=None) -> int:
        return len(_since(self.reaction_rows, since))

    def reuses_received(self, since=None) -> int:
        rows = _since(self.reuse_rows, since)
        return len({r.get("by", i) for i, r in enumerate(rows)})

    def active_weeks(self, since=None) -> set[date]:
        return {week_start(r["at"]) for r in self._counted(since)}

    def points(self, dimension) -> int:
        return self.point_totals.get(dimension, 0)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.time_zone).date()

    def points_on_day(self, day, source_type) -> int:
        return self.day_points.get((day, source_type), 0)

    def rule_awards(self, rule_id, since=None) -> int:
        return sum(1 for r in _since(self.award_rows, since) if r["rule_id"] == rule_id)

    def last_rule_award(self, rule_id):
        times = [r["at"] for r in self.award_rows if r["rule_id"] == rule_id]
        return max(times) if times else None

    def challenges_completed(self, since=None) -> int:
        return len(_since(self.challenge_rows, since))

    def changed(self, rule_id=None, at=None, ledger=False, badge=False) -> None:
        pass
