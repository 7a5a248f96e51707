"""Who sees which experiment: private to the author, team to teammates and staff, course to the course,
and nothing ever across courses."""
import pytest

from plugin.core.actor import Role
from plugin.errors import NotFound
from plugin.experiments import queries
from plugin.teams import service as teams
from tests.services.factories import NOW, log, make_actor, make_platform


class Course:
    """One course: author and teammate in team Red, a learner in team Blue, a loner, a manager, an observer;
    the author has logged one experiment at each visibility."""

    def __init__(self, platform, context_id: str = "course-1"):
        def person(sub, role=Role.LEARNER):
            return make_actor(platform, f"{context_id}-{sub}", role, context_id=context_id)

        self.author, self.teammate, self.other_team = person("author"), person("teammate"), person("blue")
        self.loner, self.manager, self.observer = person("loner"), person("manager", Role.MANAGER), \
            person("observer", Role.OBSERVER)
        red = teams.ensure_team(self.author.course_id, "Red", NOW)
        blue = teams.ensure_team(self.author.course_id, "Blue", NOW)
        teams.add_member(red, self.author.user_id)
        teams.add_member(red, self.teammate.user_id)
        teams.add_member(blue, self.other_team.user_id)
        self.private = log(self.author, visibility="private", title="Private notes").experiment.id
        self.team = log(self.author, visibility="team", title="For my team").experiment.id
        self.course = log(self.author, visibility="course", title="For everyone").experiment.id


@pytest.fixture
def platform(appctx):
    return make_platform()


@pytest.fixture
def course(platform):
    return Course(platform)


def feed_ids(actor) -> set[int]:
    return {row["experiment"].id for row in queries.feed(actor)}


def can_open(actor, experiment_id: int) -> bool:
    try:
        row = queries.get_visible(actor, experiment_id)
    except NotFound:
        return False
    assert row["experiment"].id == experiment_id
    return True


def test_the_author_sees_all_of_their_own_entries(course):
    assert feed_ids(course.author) == {course.private, course.team, course.course}
    assert all(can_open(course.author, e) for e in (course.private, course.team, course.course))
    assert {row["experiment"].id for row in queries.mine(course.author)} == {course.private, course.team, course.course}


@pytest.mark.parametrize("who", ["teammate", "other_team", "loner", "manager", "observer"])
def test_a_private_entry_is_seen_by_its_author_only(course, who):
    viewer = getattr(course, who)
    assert course.private not in feed_ids(viewer)
    assert not can_open(viewer, course.private)


@pytest.mark.parametrize("who", ["teammate", "manager"])
def test_a_team_entry_is_seen_by_teammates_and_managers(course, who):
    viewer = getattr(course, who)
    assert course.team in feed_ids(viewer)
    assert can_open(viewer, course.team)


@pytest.mark.parametrize("who", ["other_team", "loner", "observer"])
def test_a_team_entry_is_hidden_from_people_outside_the_team(course, who):
    viewer = getattr(course, who)
    assert course.team not in feed_ids(viewer)
    assert not can_open(viewer, course.team)


@pytest.mark.parametrize("who", ["teammate", "other_team", "loner", "manager", "observer"])
def test_a_course_entry_is_seen_by_the_whole_course(course, who):
    viewer = getattr(course, who)
    assert course.course in feed_ids(viewer)
    assert can_open(viewer, course.course)


def test_a_forced_private_entry_stays_hidden_from_the_team(course):
    hidden = log(course.author, visibility="team", sensitive_data="unsure").experiment.id
    assert hidden not in feed_ids(course.teammate)
    assert not can_open(course.manager, hidden)


def test_a_learner_in_two_teams_sees_both_teams_entries(course):
    blue = teams.ensure_team(course.author.course_id, "Blue", NOW)
    teams.add_member(blue, course.teammate.user_id)
    blue_entry = log(course.other_team, visibility="team").experiment.id
    assert {course.team, blue_entry} <= feed_ids(course.teammate)
    assert blue_entry not in feed_ids(course.author)


def test_feed_lists_newest_first_and_pages_by_id(course):
    ids = [row["experiment"].id for row in queries.feed(course.author)]
    assert ids == sorted(ids, reverse=True)
    assert [row["experiment"].id for row in queries.feed(course.author, limit=1)] == [max(ids)]
    assert [row["experiment"].id for row in queries.feed(course.author, before_id=max(ids))] == ids[1:]


# --- no course ever sees another's entries --------------------------------------------------------
@pytest.fixture
def two_courses(platform):
    return Course(platform, "course-1"), Course(platform, "course-2")


@pytest.mark.parametrize("who", ["author", "teammate", "other_team", "loner", "manager", "observer"])
def test_nothing_from_course_a_is_visible_in_course_b(two_courses, who):
    a, b = two_courses
    viewer = getattr(b, who)
    a_ids = {a.private, a.team, a.course}
    assert feed_ids(viewer).isdisjoint(a_ids)
    for experiment_id in a_ids:
        with pytest.raises(NotFound):
            queries.get_visible(viewer, experiment_id)


def test_a_member_of_both_courses_acting_in_b_sees_nothing_of_a_not_even_their_own(platform, two_courses):
    a, b = two_courses
    # The same LMS account as course A's author, launching into course B.
    same_person_in_b = make_actor(platform, "course-1-author", context_id="course-2")
    assert same_person_in_b.user_id == a.author.user_id and same_person_in_b.course_id == b.author.course_id
    a_ids = {a.private, a.team, a.course}
    assert feed_ids(same_person_in_b) == {b.course}
    assert queries.mine(same_person_in_b) == []
    for experiment_id in a_ids:
        with pytest.raises(NotFound):
            queries.get_visible(same_person_in_b, experiment_id)


def test_a_manager_of_both_courses_acting_in_b_sees_only_b(platform, two_courses):
    a, b = two_courses
    manager_in_b = make_actor(platform, "course-1-manager", Role.MANAGER, context_id="course-2")
    assert feed_ids(manager_in_b) == {b.team, b.course}
    with pytest.raises(NotFound):
        queries.get_visible(manager_in_b, a.team)


def test_teammates_in_course_a_are_not_teammates_in_course_b(platform, two_courses):
    a, b = two_courses
    teammate_in_b = make_actor(platform, "course-1-teammate", context_id="course-2")
    author_in_b = make_actor(platform, "course-1-author", context_id="course-2")
    team_entry_in_b = log(author_in_b, visibility="team").experiment.id
    assert team_entry_in_b not in feed_ids(teammate_in_b)
    assert not can_open(teammate_in_b, team_entry_in_b)


def test_another_platform_never_sees_this_course(two_courses):
    a, _ = two_courses
    elsewhere = make_platform("https://other.example.com", "client-2", organisation="Org B")
    stranger = make_actor(elsewhere, "course-1-author", context_id="course-1")
    assert stranger.course_id != a.author.course_id
    assert feed_ids(stranger) == set()
    with pytest.raises(NotFound):
        queries.get_visible(stranger, a.course)
