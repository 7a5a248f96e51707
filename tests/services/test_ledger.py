"""The points ledger: append-only, idempotent by key, totals maintained beside it and rebuildable from it."""
import pytest
from sqlalchemy import delete, func, select, update

from plugin.errors import Conflict, NotFound
from plugin.extensions import db
from plugin.ledger.models import TOTAL, LedgerEntry, PointsTotal, QuarterPoints
from plugin.ledger.service import (
    Posting,
    balance,
    balances,
    entries,
    post_entry,
    rebuild_totals,
    reverse_entry,
    verify_totals,
)
from tests.services.factories import NOW, later, make_actor, make_platform


@pytest.fixture
def people(appctx):
    platform = make_platform()
    ada = make_actor(platform, "ada")
    bo = make_actor(platform, "bo")
    other_course = make_actor(platform, "ada", context_id="course-2")
    return ada, bo, other_course


def posting(actor, key: str, amount: int = 10, dimension: str = "experimenting", source_id: int = 1) -> Posting:
    return Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                   amount=amount, dimension=dimension, source_type="experiment", source_id=source_id, key=key)


def rows_with_key(key: str) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.idempotency_key == key))


def all_totals() -> dict:
    return {(t.course_id, t.user_id, t.dimension): t.points for t in db.session.scalars(select(PointsTotal))}


def test_posting_the_same_key_twice_counts_once(people):
    ada, _, _ = people
    first = post_entry(posting(ada, "rule:1:experiment:1", 10), NOW)
    second = post_entry(posting(ada, "rule:1:experiment:1", 10), later(1))
    db.session.commit()
    assert first is not None and second is None
    assert rows_with_key("rule:1:experiment:1") == 1
    assert balances(ada.course_id, ada.user_id) == {"experimenting": 10, TOTAL: 10}


def test_a_repeat_with_another_amount_does_not_change_the_first(people):
    ada, _, _ = people
    post_entry(posting(ada, "k-1", 10), NOW)
    assert post_entry(posting(ada, "k-1", 500), NOW) is None
    assert balance(ada.course_id, ada.user_id) == 10
    assert [e.amount for e in entries(ada.course_id, ada.user_id)] == [10]


def test_totals_per_dimension_and_overall(people):
    ada, bo, _ = people
    post_entry(posting(ada, "a-1", 10, "experimenting"), NOW)
    post_entry(posting(ada, "a-2", 10, "experimenting"), NOW)
    post_entry(posting(ada, "a-3", 3, "helping"), NOW)
    post_entry(posting(bo, "b-1", 7, "helping"), NOW)
    db.session.commit()
    assert balances(ada.course_id, ada.user_id) == {"experimenting": 20, "helping": 3, TOTAL: 23}
    assert balance(ada.course_id, ada.user_id, "helping") == 3
    assert balances(bo.course_id, bo.user_id) == {"helping": 7, TOTAL: 7}
    assert balance(bo.course_id, bo.user_id, "experimenting") == 0


def test_points_belong_to_the_course_they_were_earned_in(people):
    ada, _, ada_elsewhere = people
    post_entry(posting(ada, "a-1", 10), NOW)
    post_entry(posting(ada_elsewhere, "a2-1", 4), NOW)
    assert ada.user_id == ada_elsewhere.user_id and ada.course_id != ada_elsewhere.course_id
    assert balance(ada.course_id, ada.user_id) == 10
    assert balance(ada_elsewhere.course_id, ada.user_id) == 4
    assert [e.amount for e in entries(ada.course_id, ada.user_id)] == [10]


def test_reversal_posts_a_negative_entry_and_leaves_the_original_alone(people):
    ada, _, _ = people
    original_id = post_entry(posting(ada, "rule:1:experiment:9", 10), NOW)
    db.session.commit()
    reversal_id = reverse_entry(original_id, "reverse:rule:1:experiment:9", later(5))
    db.session.commit()
    db.session.expire_all()

    original = db.session.get(LedgerEntry, original_id)
    reversal = db.session.get(LedgerEntry, reversal_id)
    assert (original.amount, original.idempotency_key, original.reverses_id) == (10, "rule:1:experiment:9", None)
    assert original.created_at == NOW
    assert reversal.amount == -10
    assert reversal.idempotency_key == "reverse:rule:1:experiment:9"
    assert reversal.reverses_id == original_id
    assert (reversal.dimension, reversal.source_type, reversal.source_id) == ("experimenting", "experiment", 1)
    assert balances(ada.course_id, ada.user_id) == {"experimenting": 0, TOTAL: 0}


def test_reversing_again_with_the_same_key_does_nothing(people):
    ada, _, _ = people
    original_id = post_entry(posting(ada, "k", 10), NOW)
    assert reverse_entry(original_id, "undo-k", NOW) is not None
    assert reverse_entry(original_id, "undo-k", NOW) is None
    assert balance(ada.course_id, ada.user_id) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2


def test_an_entry_cannot_be_cancelled_twice(people):
    ada, _, _ = people
    original_id = post_entry(posting(ada, "k", 10), NOW)
    reverse_entry(original_id, "undo-k-by-manager", NOW)
    try:
        reverse_entry(original_id, "undo-k-by-replay", later(1))
    except Conflict:
        pass
    assert balance(ada.course_id, ada.user_id) == 0


def test_a_reversing_entry_cannot_be_reversed(people):
    ada, _, _ = people
    original_id = post_entry(posting(ada, "k", 10), NOW)
    reversal_id = reverse_entry(original_id, "undo-k", NOW)
    with pytest.raises(Conflict):
        reverse_entry(reversal_id, "undo-undo-k", NOW)
    assert balance(ada.course_id, ada.user_id) == 0
    assert rows_with_key("undo-undo-k") == 0


def test_reversing_an_unknown_entry_is_not_found(people):
    with pytest.raises(NotFound):
        reverse_entry(987654, "undo-nothing", NOW)


def _busy_ledger(people):
    ada, bo, ada_elsewhere = people
    post_entry(posting(ada, "a-1", 10), NOW)
    post_entry(posting(ada, "a-2", 10), NOW)
    post_entry(posting(ada, "a-3", 5, "helping"), NOW)
    post_entry(posting(bo, "b-1", 10), NOW)
    reverse_entry(post_entry(posting(bo, "b-2", 10), NOW), "undo-b-2", NOW)
    post_entry(posting(ada_elsewhere, "c-1", 3), NOW)
    db.session.commit()


def test_rebuild_recomputes_identical_totals_after_they_are_wiped(people):
    _busy_ledger(people)
    before = all_totals()
    assert before[(people[0].course_id, people[0].user_id, TOTAL)] == 25

    db.session.execute(delete(PointsTotal))
    db.session.commit()
    assert all_totals() == {}
    assert verify_totals() != []

    rebuild_totals()
    db.session.commit()
    assert all_totals() == before
    assert verify_totals() == []


def test_rebuild_for_one_course_leaves_other_courses_alone(people):
    ada, _, ada_elsewhere = people
    _busy_ledger(people)
    db.session.execute(update(PointsTotal).where(PointsTotal.course_id == ada_elsewhere.course_id)
                       .values(points=777))
    db.session.execute(delete(PointsTotal).where(PointsTotal.course_id == ada.course_id))
    rebuild_totals(ada.course_id)
    assert balance(ada.course_id, ada.user_id) == 25
    assert balance(ada_elsewhere.course_id, ada.user_id) == 777
    assert verify_totals(ada.course_id) == []


def test_verify_reports_a_tampered_total(people):
    ada, _, _ = people
    _busy_ledger(people)
    assert verify_totals() == []
    db.session.execute(update(PointsTotal).where(
        PointsTotal.course_id == ada.course_id, PointsTotal.user_id == ada.user_id, PointsTotal.dimension == TOTAL,
    ).values(points=1000))
    db.session.commit()
    assert verify_totals() == [(ada.course_id, ada.user_id, TOTAL, 1000, 25)]
    assert verify_totals(ada.course_id) == [(ada.course_id, ada.user_id, TOTAL, 1000, 25)]


def test_the_points_per_quarter_hour_are_kept_with_the_entries_and_rebuilt_from_the_ledger(people):
    """What the daily cap reads: per person, course, source type and UTC quarter hour, the points their original
    entries gave (a reversal counts in none: revoking yesterday's award must not widen today's cap)."""
    ada, _, _ = people
    _busy_ledger(people)  # all at 09:00 UTC; bo's second entry reversed
    post_entry(posting(ada, "a-4", 7), NOW.replace(minute=14, second=59))
    post_entry(posting(ada, "a-5", 4), NOW.replace(minute=15))
    kept = {(q.course_id, q.user_id, q.source_type, q.quarter): q.points for q in db.session.scalars(select(QuarterPoints))}
    nine = int(NOW.timestamp()) // 900
    bo, elsewhere = people[1], people[2]
    assert kept == {(ada.course_id, ada.user_id, "experiment", nine): 25 + 7,
                    (ada.course_id, ada.user_id, "experiment", nine + 1): 4,
                    (bo.course_id, bo.user_id, "experiment", nine): 20,
                    (elsewhere.course_id, ada.user_id, "experiment", nine): 3}
    assert verify_totals() == []
    db.session.execute(update(QuarterPoints).where(QuarterPoints.quarter == nine + 1).values(points=40))
    assert verify_totals() == [(ada.course_id, ada.user_id, "experiment points from 2025-03-03 09:15 UTC, 15 minutes",
                                40, 4)]
    db.session.execute(delete(QuarterPoints))
    rebuild_totals()
    assert {(q.course_id, q.user_id, q.source_type, q.quarter): q.points
            for q in db.session.scalars(select(QuarterPoints))} == kept
    assert verify_totals() == []


def test_verify_reports_a_missing_total_row(people):
    ada, _, _ = people
    post_entry(posting(ada, "h-1", 5, "helping"), NOW)
    db.session.execute(delete(PointsTotal).where(PointsTotal.dimension == "helping"))
    assert verify_totals() == [(ada.course_id, ada.user_id, "helping", 0, 5)]
    rebuild_totals()
    assert verify_totals() == []
    assert balances(ada.course_id, ada.user_id) == {"helping": 5, TOTAL: 5}


def test_rebuild_aggregates_for_one_organisation_repairs_its_totals_and_leaves_others_alone(app, cli):
    from plugin.tenancy.models import Organisation

    with app.app_context():
        mine, theirs = make_actor(make_platform(), "ada"), make_actor(make_platform("https://other.example", organisation="Org B"), "bo")
        for actor in (mine, theirs):
            post_entry(posting(actor, f"k-{actor.organisation_id}"), NOW)
        db.session.execute(update(PointsTotal).values(points=PointsTotal.points + 5))  # both organisations drift
        db.session.commit()
        name = db.session.get(Organisation, mine.organisation_id).name
    result = cli("ledger", "rebuild-aggregates", "--org", name)
    assert result.exit_code == 0, result.output
    assert "2 totals" in result.output
    with app.app_context():
        assert verify_totals(organisation_id=mine.organisation_id) == []
        assert verify_totals(mine.course_id) == []
        # the other organisation's drift is still there: only the named one was rebuilt
        assert verify_totals(organisation_id=theirs.organisation_id) == [
            (theirs.course_id, theirs.user_id, "experimenting", 15, 10), (theirs.course_id, theirs.user_id, TOTAL, 15, 10)]


@pytest.mark.parametrize("command", [("replay",), ("replay", "--apply"), ("rebuild-aggregates",),
                                     ("verify-aggregates",)])
def test_ledger_commands_refuse_an_organisation_name_that_does_not_exist(app, cli, platform, command):
    """A misspelt --org must say so and exit non-zero, not report an empty replay (or rebuild) as done."""
    result = cli("ledger", *command, "--org", "Acme Lerning")
    assert result.exit_code == 1, result.output
    assert "no organisation named 'Acme Lerning'" in result.output
