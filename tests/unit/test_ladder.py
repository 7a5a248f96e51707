"""Level arithmetic over a ladder of (name, threshold): pure, no app."""
from __future__ import annotations

import pytest

from plugin.levels.ladder import Step, progress

LADDER = [Step("Curious", 0), Step("Explorer", 40), Step("Practitioner", 120), Step("Pathfinder", 300),
          Step("Catalyst", 600)]


def summary(points: int, ladder=LADDER) -> tuple:
    p = progress(points, ladder)
    return p.level.name, p.next.name if p.next else None, p.percent, p.to_next


@pytest.mark.parametrize("points, expected", [
    (0, ("Curious", "Explorer", 0, 40)),
    (1, ("Curious", "Explorer", 2, 39)),
    (39, ("Curious", "Explorer", 97, 1)),
    (40, ("Explorer", "Practitioner", 0, 80)),   # exactly at a threshold: that level, at its start
    (119, ("Explorer", "Practitioner", 98, 1)),
    (300, ("Pathfinder", "Catalyst", 0, 300)),
    (600, ("Catalyst", None, 100, 0)),           # the top level is complete
    (10_000, ("Catalyst", None, 100, 0)),
])
def test_progress_along_the_ladder(points, expected):
    assert summary(points) == expected


def test_the_order_of_the_ladder_does_not_matter():
    assert summary(130, list(reversed(LADDER))) == summary(130)


def test_a_ladder_that_does_not_start_at_zero_gets_a_starter_level():
    assert summary(5, [Step("Bronze", 10), Step("Silver", 20)]) == ("Starter", "Bronze", 50, 5)
    assert summary(10, [Step("Bronze", 10)]) == ("Bronze", None, 100, 0)


def test_an_empty_ladder_is_one_starter_level():
    assert summary(0, []) == ("Starter", None, 100, 0)
    assert summary(75, []) == ("Starter", None, 100, 0)


def test_a_single_level_ladder_is_always_complete():
    assert summary(0, [Step("Member", 0)]) == ("Member", None, 100, 0)


def test_equal_thresholds_never_divide_by_zero():
    ladder = [Step("A", 0), Step("B", 10), Step("C", 10), Step("D", 20)]
    assert summary(5, ladder) == ("A", "B", 50, 5)
    assert summary(10, ladder)[0] in ("B", "C") and summary(10, ladder)[1] == "D"


def test_percent_rounds_down_and_stays_within_bounds():
    ladder = [Step("A", 0), Step("B", 3)]
    assert [progress(p, ladder).percent for p in range(4)] == [0, 33, 66, 100]


def test_points_below_the_first_threshold_are_at_the_start_of_the_first_level():
    assert summary(-5) == ("Curious", "Explorer", 0, 45)
