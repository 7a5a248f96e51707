"""Ranks, order and neighbours read from the rank buckets and blocks agree with a plain ranking of everyone's
points, for every viewer, with many ties and values spread over several rank blocks (keys.BLOCK), on a
course board and on the organisation's board; someone who hid their name stays unnamed in the top and around."""
import itertools
import random

import pytest

from plugin.leaderboards import keys
from plugin.leaderboards.periods import ALL
from plugin.leaderboards.queries import ANONYMOUS, Scope, board
from plugin.leaderboards.service import set_opt_out
from plugin.ledger.models import TOTAL
from plugin.ledger.service import Posting, post_entry
from tests.services.factories import NOW, make_actor, make_platform

_keys = itertools.count(1)


def _award(actor, amount: int) -> None:
    post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                       amount=amount, dimension="experimenting", source_type="manual", source_id=None,
                       key=f"rank-test:{next(_keys)}"), NOW)


def _expected(points: dict[int, int]) -> list[tuple[int, int, int]]:
    """(rank, user id, points) in board order: points high to low, then earliest account; "1224" ranks."""
    order = sorted(points.items(), key=lambda item: (-item[1], item[0]))
    out = []
    for position, (user_id, p) in enumerate(order, start=1):
        rank = out[-1][0] if out and out[-1][2] == p else position
        out.append((rank, user_id, p))
    return out


@pytest.fixture
def spread(appctx):
    """30 learners: ties at the top, in the middle and at the bottom, values on both sides of block edges."""
    platform = make_platform()
    rng = random.Random(7)
    values = [5000, 5000, 4096, 3000, 2048, 2047, 2047, 1100, 1025, 1024, 1024, 1023, 1023, 1023, 900, 500, 500,
              250, 200, 200, 200, 100, 50, 50, 20, 10, 10, 10, 5, 5]
    rng.shuffle(values)
    people = [make_actor(platform, f"learner-{i}", name=f"Learner {i:02d}") for i in range(len(values))]
    for person, total in zip(people, values):
        first = total // 3 or total
        _award(person, first)  # two awards each: buckets and blocks move, not just get created
        if total - first:
            _award(person, total - first)
    return people, {p.user_id: v for p, v in zip(people, values)}


@pytest.mark.parametrize("scope_kind", ["course", "organisation"])
def test_every_viewer_sees_the_true_order_ranks_and_neighbours(spread, scope_kind):
    people, points = spread
    expected = _expected(points)
    scope = Scope.course(people[0].course_id) if scope_kind == "course" else Scope.organisation(people[0].organisation_id)
    assert len({keys.block_of(p) for p in points.values()}) >= 4  # the data really spans several blocks
    for position, (rank, user_id, p) in enumerate(expected):
        result = board(scope, ALL, TOTAL, user_id, limit=5, around=2)
        assert [(r.rank, r.user_id, r.points) for r in result.rows] == expected[:5]
        assert (result.viewer.rank, result.viewer.points) == (rank, p)
        assert result.participants == len(points)
        if position < 5:
            assert result.around == [] and result.viewer_in_top
        else:
            window = expected[max(5, position - 2):position + 3]
            assert [(r.rank, r.user_id, r.points) for r in result.around] == window


def test_relative_mode_shows_only_the_neighbourhood_with_true_ranks(spread):
    people, points = spread
    expected = _expected(points)
    position = 16
    rank, user_id, p = expected[position]
    result = board(Scope.course(people[0].course_id), ALL, TOTAL, user_id, around=3, relative=True)
    assert result.rows == []
    assert [(r.rank, r.user_id, r.points) for r in result.around] == expected[position - 3:position + 4]


def test_a_hidden_name_stays_hidden_in_the_top_and_around_but_not_to_themselves(spread):
    people, points = spread
    expected = _expected(points)
    top_person = next(p for p in people if p.user_id == expected[1][1])
    near_person = next(p for p in people if p.user_id == expected[11][1])
    for person in (top_person, near_person):
        set_opt_out(person, True, NOW)
    viewer = expected[12][1]
    result = board(Scope.course(people[0].course_id), ALL, TOTAL, viewer, limit=5, around=2)
    hidden_top = result.rows[1]
    assert (hidden_top.name, hidden_top.user_id, hidden_top.anonymous, hidden_top.rank) == (ANONYMOUS, None, True,
                                                                                            expected[1][0])
    hidden_near = next(r for r in result.around if r.points == expected[11][2] and r.anonymous)
    assert (hidden_near.name, hidden_near.user_id, hidden_near.rank) == (ANONYMOUS, None, expected[11][0])
    assert all(r.name.startswith("Learner ") for r in result.rows + result.around if not r.anonymous)
    mine = board(Scope.course(people[0].course_id), ALL, TOTAL, near_person.user_id, limit=5, around=2)
    assert mine.viewer.name == near_person.display_name and not mine.viewer.anonymous
