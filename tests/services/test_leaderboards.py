"""standings(): ordered by points, ties share a rank (1, 1, 3), the viewer always learns their true rank,
staff are never on the board, and each course's board holds only that course's points."""
import itertools
from types import SimpleNamespace

import pytest

from plugin.core.actor import Role
from plugin.leaderboards.periods import ALL
from plugin.leaderboards.queries import Scope
from plugin.leaderboards.queries import board as course_board
from plugin.leaderboards.reconcile import reconcile_member
from plugin.ledger.models import TOTAL
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.tenancy import service as tenancy
from tests.services.factories import NOW, identity, log, make_actor, make_platform


@pytest.fixture
def platform(appctx):
    return make_platform()


_keys = itertools.count(1)


def standings(course_id: int, viewer_user_id: int | None, limit: int = 10, dimension: str = TOTAL):
    """The course's all-time board as the dashboard shows it: the top, and the viewer wherever they are."""
    result = course_board(Scope.course(course_id), ALL, dimension, viewer_user_id, limit=limit, around=0)
    return SimpleNamespace(top=result.rows, viewer=result.viewer, viewer_in_top=result.viewer_in_top)


def award(actor, points: int, dimension: str = "experimenting") -> int:
    return post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                              amount=points, dimension=dimension, source_type="manual", source_id=None,
                              key=f"test-award:{actor.course_id}:{actor.user_id}:{next(_keys)}"), NOW)


def learners(platform, *points: int, context_id: str = "course-1") -> list:
    people = []
    for i, p in enumerate(points):
        person = make_actor(platform, f"{context_id}-learner-{i}", context_id=context_id, name=f"Learner {i}")
        if p:
            award(person, p)
        people.append(person)
    return people


def board(result) -> list[tuple[int, str, int]]:
    return [(s.rank, s.name, s.points) for s in result.top]


def test_highest_points_first(platform):
    people = learners(platform, 20, 50, 10, 40)
    result = standings(people[0].course_id, people[0].user_id)
    assert board(result) == [(1, "Learner 1", 50), (2, "Learner 3", 40), (3, "Learner 0", 20), (4, "Learner 2", 10)]
    assert result.viewer.rank == 3 and result.viewer.is_viewer and result.viewer_in_top
    assert [s.is_viewer for s in result.top] == [False, False, True, False]


def test_ties_share_a_rank_and_the_next_rank_skips(platform):
    people = learners(platform, 30, 30, 10, 10, 5)
    result = standings(people[0].course_id, None)
    assert [(s.rank, s.points) for s in result.top] == [(1, 30), (1, 30), (3, 10), (3, 10), (5, 5)]
    # Within a tie the earlier account is listed first, so the order never flickers.
    assert [s.user_id for s in result.top] == [p.user_id for p in people]
    assert result.viewer is None


def test_a_viewer_outside_the_top_gets_their_true_rank(platform):
    people = learners(platform, 50, 40, 30, 20, 10)
    result = standings(people[0].course_id, people[3].user_id, limit=2)
    assert board(result) == [(1, "Learner 0", 50), (2, "Learner 1", 40)]
    assert not result.viewer_in_top
    assert (result.viewer.rank, result.viewer.points, result.viewer.name) == (4, 20, "Learner 3")


def test_a_viewer_tied_below_the_cut_shares_the_rank_of_their_tie(platform):
    people = learners(platform, 50, 40, 30, 30, 30)
    result = standings(people[0].course_id, people[4].user_id, limit=3)
    assert [(s.rank, s.points) for s in result.top] == [(1, 50), (2, 40), (3, 30)]
    assert result.viewer.rank == 3 and result.viewer.user_id == people[4].user_id


def test_a_viewer_without_points_is_not_ranked(platform):
    people = learners(platform, 10, 0)
    result = standings(people[0].course_id, people[1].user_id)
    assert board(result) == [(1, "Learner 0", 10)]
    assert result.viewer is None


def test_points_cancelled_by_a_reversal_drop_the_learner_down(platform):
    people = learners(platform, 10, 0)
    big = award(people[1], 30)
    assert standings(people[0].course_id, None).top[0].user_id == people[1].user_id
    reverse_entry(big, "undo-big", NOW)
    assert [(s.user_id, s.points) for s in standings(people[0].course_id, None).top] == [
        (people[0].user_id, 10), (people[1].user_id, 0)]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN, Role.OBSERVER])
def test_only_learners_are_on_the_board(platform, role):
    people = learners(platform, 10, 20)
    staff = make_actor(platform, "staff-1", role, name="Staff Person")
    award(staff, 999)
    result = standings(people[0].course_id, staff.user_id)
    assert [s.name for s in result.top] == ["Learner 1", "Learner 0"]
    assert result.viewer is None


def test_a_learner_who_becomes_staff_leaves_the_board(platform):
    people = learners(platform, 10, 20)
    tenancy.provision(identity(platform, "course-1-learner-1", Role.MANAGER, name="Learner 1"), NOW)
    assert reconcile_member(people[1].course_id, people[1].user_id)  # what every launch does after provisioning
    result = standings(people[0].course_id, people[1].user_id)
    assert [s.name for s in result.top] == ["Learner 0"]
    assert result.viewer is None


def test_another_courses_points_never_appear(platform):
    here = learners(platform, 10, 5)
    there = learners(platform, 100, 90, context_id="course-2")
    # The same person also earns a lot in course 2.
    both = make_actor(platform, "course-1-learner-1", context_id="course-2", name="Learner 1")
    assert both.user_id == here[1].user_id
    award(both, 500)
    result = standings(here[0].course_id, here[1].user_id)
    assert [(s.user_id, s.points) for s in result.top] == [(here[0].user_id, 10), (here[1].user_id, 5)]
    assert result.viewer.rank == 2 and result.viewer.points == 5
    assert {s.user_id for s in standings(there[0].course_id, None).top} == {
        there[0].user_id, there[1].user_id, both.user_id}


def test_a_dimension_board_counts_only_that_dimension(platform):
    a, b = learners(platform, 10, 0)
    award(b, 25, "helping")
    assert [(s.user_id, s.points) for s in standings(a.course_id, None, dimension="experimenting").top] == [
        (a.user_id, 10)]
    assert [(s.user_id, s.points) for s in standings(a.course_id, None, dimension="helping").top] == [
        (b.user_id, 25)]
    assert [s.user_id for s in standings(a.course_id, None).top] == [b.user_id, a.user_id]


def test_a_nameless_learner_appears_as_participant(platform):
    anon = make_actor(platform, "anon", name=None)
    award(anon, 10)
    assert standings(anon.course_id, anon.user_id).top[0].name == f"Participant {anon.user_id}"


def test_the_board_follows_logged_experiments(platform):
    a, b = learners(platform, 0, 0)
    log(a)
    log(b)
    log(b, outcome="failed", learned="Needed example categories first.")  # +10 trying, +10 Fail Forward
    result = standings(a.course_id, a.user_id)
    assert [(s.rank, s.user_id, s.points) for s in result.top] == [(1, b.user_id, 30), (2, a.user_id, 10)]
