"""Differencing: no sum or difference of the groups a reader can pick singles out fewer than k people."""
from fractions import Fraction
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.insights.differencing import TOP, Family

K = 5


def units(*people, course=1):
    return frozenset((p, course) for p in people)


def family(top, **teams):
    return Family({TOP: top, **{("team", int(name[1:])): members for name, members in teams.items()}})


def test_a_team_of_everyone_but_one_is_withheld():
    everyone = units(*range(10))
    f = family(everyone, t1=units(*range(9)))
    assert f.shown(everyone, K) == {TOP}


def test_a_team_whose_complement_reaches_k_is_shown():
    everyone = units(*range(10))
    f = family(everyone, t1=units(*range(5)))
    assert f.shown(everyone, K) == {TOP, ("team", 1)}


def test_a_team_of_the_whole_course_is_shown():
    everyone = units(*range(10))
    assert family(everyone, t1=everyone).shown(everyone, K) == {TOP, ("team", 1)}


def test_two_nested_teams_one_person_apart_lose_one():
    everyone = units(*range(20))
    f = family(everyone, t1=units(*range(8)), t2=units(*range(7)))
    shown = f.shown(everyone, K)
    assert TOP in shown and len(shown) == 2  # either team alone is fine; both together give person 7 away


def test_two_teams_sharing_one_person_and_covering_the_course_lose_one():
    """Team 1 is 0-4 and x, team 2 is 5-9 and x: team 1 + team 2 - course = x."""
    x = 99
    everyone = units(*range(10), x)
    f = family(everyone, t1=units(*range(5), x), t2=units(*range(5, 10), x))
    assert len(f.shown(everyone, K)) == 2


def test_overlapping_teams_that_isolate_nobody_are_both_shown():
    everyone = units(*range(20))
    f = family(everyone, t1=units(*range(10)), t2=units(*range(5, 15)))
    assert f.shown(everyone, K) == {TOP, ("team", 1), ("team", 2)}


def test_teams_made_of_small_pieces_are_shown_when_no_piece_can_be_isolated():
    """Team 1 (0-5) and team 2 (4-9) cut each other into pieces of 4, 2 and 4 people, all under five; but no sum or
    difference of the course and the two teams gives any piece on its own."""
    everyone = units(*range(20))
    f = family(everyone, t1=units(*range(6)), t2=units(*range(4, 10)))
    assert f.shown(everyone, K) == {TOP, ("team", 1), ("team", 2)}


def test_the_figure_decides_not_the_roster():
    """Team 1 is all but five people, but of those five only one estimated the time saved: the course's minutes
    minus team 1's would be that one person's."""
    roster = units(*range(15))
    f = family(roster, t1=units(*range(10)))
    assert f.shown(roster, K) == {TOP, ("team", 1)}
    estimated = units(*range(10), 12)
    assert f.shown(estimated, K) == {TOP}


def test_a_team_with_nobody_in_the_figure_shows_its_zero():
    roster = units(*range(20))
    f = family(roster, t1=units(*range(10)), t2=units(*range(10, 20)))
    assert f.shown(units(*range(10)), K) == {TOP, ("team", 1), ("team", 2)}


def test_an_admin_course_beside_a_small_other_course_is_withheld():
    a, b = units(*range(10), course=1), units(20, 21, course=2)
    f = Family({TOP: a | b, ("course", 1): a, ("course", 2): b})
    assert f.shown(a | b, K) == {TOP}  # the organisation minus course 1 is course 2's two people


def test_one_person_in_two_courses_counts_once_per_atom():
    a, b = units(*range(6), course=1), units(*range(6), course=2)
    f = Family({TOP: a | b, ("course", 1): a, ("course", 2): b})
    assert f.shown(a | b, K) == {TOP, ("course", 1), ("course", 2)}


# --- the guarantee, checked by brute force with exact fractions ---------------------------------------------
def _in_span(vector: list[int], columns: list[list[int]]) -> bool:
    def rank(cols):
        rows = [list(map(Fraction, r)) for r in zip(*cols)] if cols else []
        r = 0
        for c in range(len(cols)):
            pivot = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
            if pivot is None:
                continue
            rows[r], rows[pivot] = rows[pivot], rows[r]
            for i in range(len(rows)):
                if i != r and rows[i][c] != 0:
                    f = rows[i][c] / rows[r][c]
                    rows[i] = [x - f * y for x, y in zip(rows[i], rows[r])]
            r += 1
        return r

    return rank(columns + [vector]) == rank(columns)


memberships = st.lists(st.frozensets(st.integers(0, 13), max_size=14), min_size=1, max_size=7)


@settings(max_examples=200, deadline=None)
@given(memberships, st.frozensets(st.integers(0, 13), min_size=1))
def test_no_small_set_of_people_can_be_computed_from_what_is_shown(teams, figure):
    everyone = units(*range(14))
    f = Family({TOP: everyone, **{("team", i): units(*t) for i, t in enumerate(teams)}})
    shown = f.shown(units(*figure), K)
    assert not _isolates(f, shown, figure), (teams, figure, shown)
    if len(figure) >= K:
        assert TOP in shown
        big_enough = {g for g in f.groups if len(f.groups[g] & units(*figure)) >= K}
        if not _isolates(f, big_enough, figure):  # nothing to protect: nothing more withheld
            assert shown >= big_enough, (teams, figure, shown)


def _isolates(f, shown, figure) -> bool:
    """Whether some set of fewer than K people's figure can be computed from the shown groups' figures."""
    groups = [g for g in sorted(shown) if f.groups[g] & units(*figure)]
    cells = {g: {p for p, _ in f.groups[g] & units(*figure)} for g in groups}
    people = sorted(figure)
    columns = [[1 if p in cells[g] else 0 for p in people] for g in groups]
    atoms: dict[tuple, set] = {}
    for p in people:
        atoms.setdefault(tuple(p in cells[g] for g in groups), set()).add(p)
    small = [a for a in atoms.values() if len(a) < K]
    for n in range(1, len(small) + 1):
        for chosen in combinations(small, n):
            together = set().union(*chosen)
            if len(together) < K and _in_span([1 if p in together else 0 for p in people], columns):
                return True
    return False


def test_a_figure_shown_per_team_only_is_set_beside_the_other_teams_alone():
    """Pillar coverage has a row per team and no course total: a team of all but one isolates nobody there, while
    two teams one person apart still would."""
    everyone = units(*range(10))
    f = family(everyone, t1=units(*range(9)))
    assert f.shown(everyone, K, teams_only=True) == {("team", 1)}
    g = family(everyone, t1=units(*range(9)), t2=units(*range(8)))
    assert len(g.shown(everyone, K, teams_only=True)) == 1


def _organisation(courses: int) -> Family:
    """An organisation of `courses` courses of 12 learners, each with two teams of 6 sharing 2 people (courses meet
    only in the organisation)."""
    groups = {}
    for c in range(courses):
        people = [c * 100 + p for p in range(12)]
        groups[("course", c)] = units(*people, course=c)
        groups[("team", 2 * c)] = units(*people[:6], course=c)
        groups[("team", 2 * c + 1)] = units(*people[4:10], course=c)
    groups[TOP] = frozenset().union(*groups.values())
    return Family(groups)


def test_a_large_organisation_is_judged_course_by_course():
    """An admin's organisation of 40 courses: each course's teams were searched together with every other course's,
    more combinations than the search takes, so 19 of the 80 teams were withheld though nothing small lay between
    any two. Courses meet only in the organisation's own figure: each course's teams are shown as they are alone."""
    alone = _organisation(1).shown(units(*range(12), course=0), K)
    assert {("team", 0), ("team", 1)} <= alone  # two teams of 6 sharing 2: nothing small between them
    many = _organisation(40)
    shown = many.shown(many.groups[TOP], K)
    assert shown == frozenset(many.groups)


def test_a_part_too_large_to_search_gives_nobody_away(monkeypatch):
    """When a search would try more than _STEPS sets of rows, groups in that part are withheld until nobody can be
    singled out through them; the top stays."""
    import plugin.insights.differencing as differencing

    monkeypatch.setattr(differencing, "_STEPS", 0)
    everyone = units(*range(14))
    f = Family({TOP: everyone, ("team", 1): units(*range(0, 9)), ("team", 2): units(*range(8, 14)),
                ("team", 3): units(*range(2, 12))})
    shown = f.shown(everyone, K)
    assert TOP in shown and not _isolates(f, shown, set(range(14)))
