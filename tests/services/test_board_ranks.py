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


def test_rank_rows_follow_people_moving_on_more_boards_than_one_statement_writes(appctx):
    """A writer moving a person on many boards at once (more rank rows than core.db.HotRows puts in one
    statement on SQLite) leaves every rank bucket and block counting exactly the people there."""
    from collections import Counter

    from sqlalchemy import select

    from plugin.core.db import HotRows
    from plugin.extensions import db
    from plugin.leaderboards.board_rows import bump_boards, ranks_last
    from plugin.leaderboards.models import BoardRank, BoardScore

    platform = make_platform()
    ada, bo = make_actor(platform, "ada"), make_actor(platform, "bo")
    boards = [f"c{ada.course_id}:many-{i:03d}:total" for i in range(HotRows.CHUNK + 7)]
    for user_id, deltas in ((bo.user_id, {b: 5 for b in boards}), (ada.user_id, {b: 5 for b in boards}),
                            (ada.user_id, {b: i * 300 for i, b in enumerate(boards)})):  # ada ties bo, then moves
        with ranks_last():
            bump_boards(user_id, deltas)
    db.session.commit()

    scores = db.session.execute(select(BoardScore.board, BoardScore.points).where(BoardScore.board.in_(boards))).all()
    assert len(scores) == 2 * len(boards)
    expected = Counter((b, p) for b, p in scores) + Counter((b + keys.BLOCKS, p // keys.BLOCK) for b, p in scores)
    stored = {(b, p): n for b, p, n in db.session.execute(select(BoardRank.board, BoardRank.points, BoardRank.members).where(
        BoardRank.board.in_(boards + [b + keys.BLOCKS for b in boards]))) if n}
    assert stored == dict(expected)
    assert stored[(boards[-1], 5)] == 1 and stored[(boards[0], 5)] == 2  # moved off the tie, or still in it
